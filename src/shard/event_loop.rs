//! One shard's thread: the loop that moves bytes between the backend's sockets
//! and the shard's [`Host`], and the clock into it.
//!
//! Each iteration: wait (for datagrams, a wake-up, or the host's next
//! deadline), feed what arrived, run due timers, then drain the host's output —
//! socket requests, CDRs, SIP and RTP datagrams — into the backend, which
//! sends it all at the next wait.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::call::{CallHandle, Host, HostEvent};
use crate::time::Time;

use super::backend::{Completion, IoBackend, Token, RTP_DATAGRAM, SIP_DATAGRAM};
use super::cdr_writer::CdrSink;
use super::clock::Clock;
use super::dispatch::owner_of;
use super::http::HttpPool;
use super::ports::PortPool;
use super::{ShardMsg, ShardPeer};

/// How many receives a SIP socket keeps in flight.
const SIP_RECV_DEPTH: usize = 32;
/// How many receives an RTP socket keeps in flight.
const RTP_RECV_DEPTH: usize = 2;
/// How long after its deadline a timer may fire: RTP leaves at most this much
/// late (well inside any receiver's jitter buffer), SIP and flow timers fire at
/// most this much late. Fewer wake-ups, larger send batches.
const TIMER_SLACK: Duration = Duration::from_millis(2);
/// How long a shutdown waits for calls to finish hanging up.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

enum Role {
    Sip,
    Rtp(CallHandle),
}

struct RtpSocket {
    token: Token,
    port: u16,
}

/// Everything one shard owns.
pub struct ShardLoop {
    pub index: usize,
    pub host: Host,
    pub backend: Box<dyn IoBackend>,
    pub clock: Clock,
    pub inbox: Receiver<ShardMsg>,
    pub peers: Arc<Vec<ShardPeer>>,
    pub cdr: CdrSink,
    pub http: HttpPool,
    pub ports: PortPool,
    pub sip_listen: SocketAddr,
    /// SIP datagrams dropped because the owner shard's inbox was full.
    pub forward_drops: u64,
}

/// Binds a UDP socket that shares its address with the other shards'.
pub fn bind_reuseport(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    socket.set_reuse_address(true)?;
    socket.set_recv_buffer_size(4 << 20).ok();
    socket.set_send_buffer_size(4 << 20).ok();
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn bind_rtp(ip: IpAddr, port: u16) -> io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(SocketAddr::new(ip, port)),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    socket.set_recv_buffer_size(256 << 10).ok();
    socket.bind(&SocketAddr::new(ip, port).into())?;
    Ok(socket.into())
}

impl ShardLoop {
    /// Runs until told to shut down and the calls have drained.
    pub fn run(mut self) -> io::Result<()> {
        let sip_socket = bind_reuseport(self.sip_listen)?;
        let sip_token = self
            .backend
            .register(sip_socket, SIP_RECV_DEPTH, SIP_DATAGRAM)?;
        let mut roles: HashMap<Token, Role> = HashMap::new();
        roles.insert(sip_token, Role::Sip);
        let mut rtp: HashMap<CallHandle, RtpSocket> = HashMap::new();
        let mut completions = Vec::with_capacity(256);
        let mut packet = vec![0u8; RTP_DATAGRAM];
        let mut shutdown_at: Option<Time> = None;
        log::info!(
            "shard {}: io backend: {}, SIP on {}",
            self.index,
            self.backend.name(),
            self.sip_listen
        );

        loop {
            let now = self.clock.now();
            if let Some(started) = shutdown_at {
                if self.host.active_calls() == 0 || now - started > DRAIN_LIMIT {
                    break;
                }
            }
            let timeout = match self.host.poll_timeout() {
                // A wait ends up to the slack after the first deadline, so one
                // wake-up serves every call whose 20 ms grid (each has its own
                // phase) comes due meanwhile; the cores still see the real clock.
                Some(at) if at > now => Some(at - now + TIMER_SLACK),
                Some(_) => Some(Duration::ZERO),
                None if shutdown_at.is_some() => Some(Duration::from_millis(50)),
                None => None,
            };
            self.backend.wait(timeout, &mut completions)?;
            let now = self.clock.now();
            for completion in completions.drain(..) {
                match completion {
                    Completion::Recv {
                        token,
                        from,
                        slot,
                        len,
                    } => {
                        let data = self.backend.recv_data(slot, len);
                        match roles.get(&token) {
                            Some(Role::Sip) => {
                                let owner = crate::sip::call_id_of(data)
                                    .map(|id| owner_of(id, self.peers.len()))
                                    .unwrap_or(self.index);
                                if owner == self.index {
                                    self.host.handle_sip(now, from, data);
                                } else if let Some(peer) = self.peers.get(owner) {
                                    let sent = peer.try_send(ShardMsg::Sip {
                                        from,
                                        data: data.to_vec(),
                                    });
                                    if !sent {
                                        self.forward_drops += 1;
                                    }
                                }
                            }
                            Some(Role::Rtp(call)) => self.host.handle_rtp(now, *call, from, data),
                            None => {}
                        }
                        self.backend.release(slot);
                    }
                    Completion::Wake => {
                        while let Ok(message) = self.inbox.try_recv() {
                            match message {
                                ShardMsg::Sip { from, data } => {
                                    self.host.handle_sip(now, from, &data)
                                }
                                ShardMsg::Http { call, result } => {
                                    self.host.http_done(now, call, result)
                                }
                                ShardMsg::Routes(router) => {
                                    log::info!("shard {}: new routing table", self.index);
                                    self.host.set_router(router)
                                }
                                ShardMsg::Shutdown => {
                                    if shutdown_at.is_none() {
                                        log::info!(
                                            "shard {}: shutting down, {} call(s) to drain",
                                            self.index,
                                            self.host.active_calls()
                                        );
                                        shutdown_at = Some(now);
                                        self.host.shutdown(now);
                                    }
                                }
                            }
                        }
                    }
                }
                self.drain_host(now, sip_token, &mut roles, &mut rtp, &mut packet);
            }
            self.host.handle_timeout(now);
            self.drain_host(now, sip_token, &mut roles, &mut rtp, &mut packet);
        }
        // Let the last BYEs and responses leave.
        self.backend.wait(Some(Duration::ZERO), &mut completions)?;
        let sip = self.host.sip_stats();
        let stats = self.backend.stats();
        log::info!(
            "shard {}: stopped; datagrams in {} out {}, syscalls {}, forward drops {}; calls {:?}; SIP {:?}",
            self.index,
            stats.datagrams_received,
            stats.datagrams_sent,
            stats.syscalls,
            self.forward_drops,
            self.host.stats(),
            sip
        );
        Ok(())
    }

    fn drain_host(
        &mut self,
        now: Time,
        sip_token: Token,
        roles: &mut HashMap<Token, Role>,
        rtp: &mut HashMap<CallHandle, RtpSocket>,
        packet: &mut [u8],
    ) {
        loop {
            let mut worked = false;
            while let Some(event) = self.host.poll_event() {
                worked = true;
                match event {
                    HostEvent::OpenRtp { call, ip } => match self.open_rtp(ip) {
                        Ok((token, port)) => {
                            roles.insert(token, Role::Rtp(call));
                            rtp.insert(call, RtpSocket { token, port });
                            self.host.media_opened(now, call, SocketAddr::new(ip, port));
                        }
                        Err(err) => {
                            log::warn!("shard {}: no RTP socket for a call: {err}", self.index);
                            self.host.media_failed(now, call);
                        }
                    },
                    HostEvent::CloseRtp { call } => {
                        if let Some(socket) = rtp.remove(&call) {
                            roles.remove(&socket.token);
                            self.backend.close(socket.token);
                            self.ports.put(socket.port);
                        }
                    }
                    HostEvent::Cdr(record) => self.cdr.write(&record),
                    HostEvent::Http {
                        call,
                        request,
                        reply,
                    } => {
                        let reply_to = reply.then(|| self.peers.get(self.index).cloned()).flatten();
                        self.http.submit(call, request, reply_to);
                    }
                }
            }
            while let Some(transmit) = self.host.poll_sip_transmit() {
                worked = true;
                self.backend
                    .send(sip_token, transmit.dest, &transmit.payload);
            }
            while let Some((call, dest, len)) = self.host.poll_rtp_transmit(now, packet) {
                worked = true;
                if let Some(socket) = rtp.get(&call) {
                    self.backend.send(socket.token, dest, &packet[..len]);
                }
            }
            if !worked {
                return;
            }
        }
    }

    fn open_rtp(&mut self, ip: IpAddr) -> io::Result<(Token, u16)> {
        let mut last_error =
            io::Error::new(io::ErrorKind::AddrNotAvailable, "RTP port range exhausted");
        for _ in 0..self.ports.free_count().min(16) {
            let Some(port) = self.ports.take() else {
                break;
            };
            match bind_rtp(ip, port) {
                Ok(socket) => {
                    let token = self
                        .backend
                        .register(socket, RTP_RECV_DEPTH, RTP_DATAGRAM)?;
                    return Ok((token, port));
                }
                Err(err) => {
                    // In use by someone else: try another, give this one back for later.
                    self.ports.put(port);
                    last_error = err;
                }
            }
        }
        Err(last_error)
    }
}
