//! One SMPP connection: connect (over TCP or TLS) and bind, write PDUs, unbind.

use std::time::Duration;

use tokio::io::{AsyncWriteExt, BufReader, BufWriter};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout, timeout_at};

use super::End;
use super::frames::{Read, read_frames};
use super::sequence::Sequence;
use super::tls::Tls;
use super::transport::{self, WriteHalf};
use crate::config::SmppConfig;
use crate::smpp::{self, Bind, Body, Pdu, status};

pub(super) struct Conn {
    pub frames: mpsc::Receiver<Read>,
    writer: BufWriter<WriteHalf>,
    reader: tokio::task::JoinHandle<()>,
    pub seq: Sequence,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Conn {
    /// Connects and binds; on failure says whether to blame the credentials.
    pub async fn open(
        cfg: &SmppConfig,
        tls: Option<&Tls>,
        bind_id: u32,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<Conn, End> {
        let wait = Duration::from_secs(cfg.response_timeout);
        let addr = format!("{}:{}", cfg.host, cfg.port);
        // The timeout covers the TLS handshake too: an SMSC that accepts and then says
        // nothing is as dead as one that never accepts.
        let (rd, wr) = tokio::select! {
            r = timeout(wait, transport::connect(&addr, tls)) => match r {
                Ok(Ok(halves)) => halves,
                Ok(Err(why)) => return Err(End::Failed(why)),
                Err(_) => return Err(End::Failed(format!("no answer from {addr} within {}s", cfg.response_timeout))),
            },
            _ = shutdown.wait_for(|s| *s) => return Err(End::Shutdown),
        };
        let (frames_tx, frames) = mpsc::channel(64);
        let reader = tokio::spawn(read_frames(BufReader::with_capacity(64 * 1024, rd), cfg.max_pdu_size, frames_tx));
        let mut conn = Conn { frames, writer: BufWriter::new(wr), reader, seq: Sequence::default() };
        conn.bind(cfg, bind_id, &addr, shutdown).await?;
        Ok(conn)
    }

    /// Sends the bind and waits for its answer.
    async fn bind(
        &mut self,
        cfg: &SmppConfig,
        bind_id: u32,
        addr: &str,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), End> {
        let role = match bind_id {
            smpp::BIND_TRANSMITTER => "transmitter",
            smpp::BIND_RECEIVER => "receiver",
            _ => "transceiver",
        };
        let bind = Bind {
            system_id: cfg.system_id.clone(),
            password: cfg.password.clone(),
            system_type: cfg.system_type.clone(),
            interface_version: 0x34,
            addr_ton: 0,
            addr_npi: 0,
            address_range: cfg.address_range.clone(),
        };
        let body = match bind_id {
            smpp::BIND_TRANSMITTER => Body::BindTransmitter(bind),
            smpp::BIND_RECEIVER => Body::BindReceiver(bind),
            _ => Body::BindTransceiver(bind),
        };
        let seq = self.seq.take();
        self.write(cfg, &Pdu::new(seq, body)).await.map_err(End::Failed)?;
        let deadline = Instant::now() + Duration::from_secs(cfg.response_timeout);
        loop {
            let read = tokio::select! {
                r = timeout_at(deadline, self.frames.recv()) => r,
                _ = shutdown.wait_for(|s| *s) => return Err(End::Shutdown),
            };
            let pdu = match read {
                Err(_) => return Err(End::Failed(format!("no bind response within {}s", cfg.response_timeout))),
                Ok(None) => return Err(End::Failed("the SMSC closed the connection during bind".into())),
                Ok(Some(Read::Closed(why))) => return Err(End::Failed(format!("during bind: {why}"))),
                Ok(Some(Read::Malformed(e, _))) => return Err(End::Failed(format!("bad bind response: {e}"))),
                Ok(Some(Read::Pdu(p))) => p,
            };
            match &pdu.body {
                Body::BindTransceiverResp(_)
                | Body::BindTransmitterResp(_)
                | Body::BindReceiverResp(_)
                | Body::GenericNack
                    if pdu.sequence == seq =>
                {
                    if pdu.status == status::ESME_ROK && !matches!(pdu.body, Body::GenericNack) {
                        tracing::info!(role, smsc = %addr, tls = cfg.tls, "SMPP bound");
                        return Ok(());
                    }
                    let why = format!("bind refused: {}", status::describe(pdu.status));
                    return Err(if status::is_bind_credentials(pdu.status) {
                        End::BadCredentials(why)
                    } else {
                        End::Failed(why)
                    });
                }
                Body::EnquireLink => {
                    let _ = self.write(cfg, &Pdu::new(pdu.sequence, Body::EnquireLinkResp)).await;
                }
                other => tracing::debug!(pdu = other.name(), "ignored while binding"),
            }
        }
    }

    pub async fn write(&mut self, cfg: &SmppConfig, pdu: &Pdu) -> Result<(), String> {
        self.write_all(cfg, std::slice::from_ref(pdu)).await
    }

    /// Several PDUs in one write.
    pub async fn write_all(&mut self, cfg: &SmppConfig, pdus: &[Pdu]) -> Result<(), String> {
        let mut bytes = Vec::with_capacity(pdus.len() * 32);
        for pdu in pdus {
            smpp::encode_into(pdu, &mut bytes).map_err(|e| format!("cannot encode {}: {e}", pdu.body.name()))?;
        }
        self.send_bytes(cfg, &bytes).await
    }

    /// Writes and flushes, giving up after `response_timeout` (an SMSC that stops reading).
    pub async fn send_bytes(&mut self, cfg: &SmppConfig, bytes: &[u8]) -> Result<(), String> {
        let w = async {
            self.writer.write_all(bytes).await?;
            self.writer.flush().await
        };
        match timeout(Duration::from_secs(cfg.response_timeout), w).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("write failed: {e}")),
            Err(_) => Err(format!("the SMSC took no data for {}s", cfg.response_timeout)),
        }
    }

    /// Says goodbye: unbind, and wait briefly for the answer.
    pub async fn unbind(&mut self, cfg: &SmppConfig) {
        let seq = self.seq.take();
        if self.write(cfg, &Pdu::new(seq, Body::Unbind)).await.is_err() {
            return;
        }
        let _ = timeout(Duration::from_secs(2), async {
            while let Some(r) = self.frames.recv().await {
                if let Read::Pdu(Pdu { body: Body::UnbindResp, .. }) | Read::Closed(_) = r {
                    break;
                }
            }
        })
        .await;
    }
}
