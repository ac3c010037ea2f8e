//! Appends CDRs to `<data_dir>/cdr.jsonl`, one JSON object per line, from a
//! thread of its own so that disk latency never stalls a shard.
//!
//! Each line is written whole and flushed as it arrives; on shutdown the
//! writer drains every record it was sent before it exits. With the control
//! plane's store, the records are also added to it in batches — whatever is
//! queued when the writer wakes (at most [`STORE_BATCH`]) goes in one
//! transaction — so the API can query them; a committed batch survives a
//! crash of the process (SQLite in WAL mode).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use chrono::SecondsFormat;
use serde::Serialize;

use crate::call::CdrRecord;
use crate::store::{CdrRow, Store};

/// The most records one store transaction takes.
const STORE_BATCH: usize = 256;

use crate::time::WallClock;

/// A CDR line: the record plus its wall-clock times.
#[derive(Serialize)]
struct CdrLine<'a> {
    #[serde(flatten)]
    record: &'a CdrRecord,
    start_time: String,
    answer_time: Option<String>,
    end_time: String,
    duration_ms: u64,
}

/// The sending side, cloned into every shard.
#[derive(Clone)]
pub struct CdrSink {
    sender: Sender<String>,
    wall: WallClock,
}

impl CdrSink {
    /// Formats and queues one record.
    pub fn write(&self, record: &CdrRecord) {
        let stamp = |t| self.wall.at(t).to_rfc3339_opts(SecondsFormat::Millis, true);
        let line = CdrLine {
            record,
            start_time: stamp(record.start),
            answer_time: record.answer.map(stamp),
            end_time: stamp(record.end),
            duration_ms: record
                .answer
                .map(|a| (record.end - a).as_millis() as u64)
                .unwrap_or(0),
        };
        match serde_json::to_string(&line) {
            Ok(text) => {
                if self.sender.send(text).is_err() {
                    log::error!("CDR writer has stopped; record for {} lost", record.call_id);
                }
            }
            Err(err) => log::error!("CDR for {} not serializable: {err}", record.call_id),
        }
    }
}

/// The writer thread.
pub struct CdrWriter {
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl CdrWriter {
    /// Opens (creating) `<data_dir>/cdr.jsonl` and starts the writer thread;
    /// with `store`, the records go there too.
    pub fn start(
        data_dir: &Path,
        wall: WallClock,
        store: Option<Arc<dyn Store>>,
    ) -> io::Result<(CdrWriter, CdrSink)> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join("cdr.jsonl");
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let (sender, receiver) = channel();
        let thread = std::thread::Builder::new()
            .name("cdr-writer".into())
            .spawn(move || write_lines(file, receiver, store))?;
        Ok((
            CdrWriter {
                thread: Some(thread),
                path,
            },
            CdrSink { sender, wall },
        ))
    }

    /// Where the records go.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until every sink is dropped and every record written.
    pub fn finish(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn write_lines(mut file: File, receiver: Receiver<String>, store: Option<Arc<dyn Store>>) {
    let mut batch = Vec::new();
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        while let Some(mut line) = next.take() {
            if store.is_some() {
                match serde_json::from_str(&line)
                    .ok()
                    .and_then(CdrRow::from_record)
                {
                    Some(row) => batch.push(row),
                    None => log::error!("CDR not stored (unreadable): {line}"),
                }
            }
            line.push('\n');
            if let Err(err) = file.write_all(line.as_bytes()).and_then(|_| file.flush()) {
                log::error!("cannot write CDR: {err}");
            }
            if batch.len() < STORE_BATCH {
                next = receiver.try_recv().ok();
            }
        }
        if let Some(store) = &store {
            if !batch.is_empty() {
                if let Err(err) = store.add_cdrs(&batch) {
                    log::error!("cannot store {} CDR(s): {err}", batch.len());
                }
                batch.clear();
            }
        }
    }
    let _ = file.sync_all();
}
