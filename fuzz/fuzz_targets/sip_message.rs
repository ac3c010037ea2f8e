//! The message parser on any bytes: `parse_message`, the dispatch peek `call_id_of`
//! and `salvage_request` (the 400 path). Nothing may panic, the peek must find the
//! parser's Call-ID for every datagram that parses, and whatever is salvaged must
//! make a response.

#![no_main]

use callplane::sip::message::{
    build_response, call_id_of, parse_message, salvage_request, Message, ResponseParts,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let peek = call_id_of(data);
    match parse_message(data) {
        Ok(Message::Request(request)) => {
            assert_eq!(
                peek,
                Some(request.call_id().as_bytes()),
                "peek and parser differ"
            );
            let _ = request.to_bytes();
        }
        Ok(Message::Response(response)) => {
            assert_eq!(
                peek,
                Some(response.call_id().as_bytes()),
                "peek and parser differ"
            );
            let _ = response.to_bytes();
        }
        Err(_) => {
            if let Some(salvaged) = salvage_request(data) {
                let response = build_response(&salvaged.echo, 400, &ResponseParts::default());
                assert!(response.starts_with(b"SIP/2.0 400 "));
            }
        }
    }
});
