//! Reading PDUs off the stream: a task that cuts the byte stream into frames and decodes
//! them, so a slow decode never stalls the writer.

use tokio::io::{AsyncReadExt, BufReader};
use tokio::sync::mpsc;

use super::transport::ReadHalf;
use crate::smpp::{self, Pdu, PduError};

pub(super) enum Read {
    Pdu(Pdu),
    /// A frame that could not be decoded (with its header's command_status); the stream
    /// is still in step.
    Malformed(PduError, u32),
    /// The stream is gone or out of step.
    Closed(String),
}

pub(super) async fn read_frames(mut rd: BufReader<ReadHalf>, max: u32, frames_tx: mpsc::Sender<Read>) {
    loop {
        let mut head = [0u8; 4];
        if let Err(e) = rd.read_exact(&mut head).await {
            let why = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "the SMSC closed the connection".to_string()
            } else {
                format!("read failed: {e}")
            };
            let _ = frames_tx.send(Read::Closed(why)).await;
            return;
        }
        let len = match smpp::frame_len(head, max) {
            Ok(n) => n,
            Err(e) => {
                let _ = frames_tx.send(Read::Closed(format!("cannot resynchronise: {e}"))).await;
                return;
            }
        };
        let mut frame = vec![0u8; len];
        frame[..4].copy_from_slice(&head);
        if let Err(e) = rd.read_exact(&mut frame[4..]).await {
            let _ = frames_tx.send(Read::Closed(format!("read failed mid-PDU: {e}"))).await;
            return;
        }
        let read = match smpp::decode(&frame) {
            Ok(p) => Read::Pdu(p),
            Err(e) => {
                let status = frame.get(8..12).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                Read::Malformed(e, status)
            }
        };
        if frames_tx.send(read).await.is_err() {
            return;
        }
    }
}
