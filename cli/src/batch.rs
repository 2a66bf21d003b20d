//! `warden policy simulate --batch`: JSON Lines in, one result per line out, in input order, on
//! several cores.
//!
//! A reader thread cuts the input into blocks of whole lines (about 1 MiB each; a longer line
//! makes its block longer) and deals them round-robin to `jobs` workers, each with its own
//! [`Simulator`] (and so its own bounded cache). The calling thread takes the workers' results
//! back in the same round-robin order and writes them, so output follows input order with no
//! barrier between blocks, and memory stays bounded (a block per channel slot) whatever the
//! input size.

use std::io::{self, Read, Write};
use std::sync::mpsc;

use anyhow::{Context as _, Result, anyhow};
use serde_json::json;
use warden_core::policy::simulate::Simulator;

/// Bytes read per block before it is cut at its last newline.
const BLOCK: usize = 1 << 20;

/// Whole lines of the input: `bytes[..len]` (the buffer's full length is kept so it can be
/// reused without zeroing it again), the first of them numbered `first_line`.
struct Block {
    bytes: Vec<u8>,
    len: usize,
    first_line: usize,
}

/// Decide every line of `input` with `sims` (one per job), writing results to `out`.
///
/// # Errors
/// Reading `input` or writing `out` failed.
pub fn run(input: Box<dyn Read + Send>, sims: &mut [Simulator], out: &mut dyn Write) -> Result<()> {
    run_sized(input, sims, out, BLOCK)
}

fn run_sized(
    input: Box<dyn Read + Send>,
    sims: &mut [Simulator],
    out: &mut dyn Write,
    block: usize,
) -> Result<()> {
    if sims.is_empty() {
        return Err(anyhow!("--jobs: must be at least 1"));
    }
    let jobs = sims.len();
    // Used buffers go back to the reader: no allocation or zeroing per block.
    let (give_back, reuse) = mpsc::sync_channel::<Vec<u8>>(2 * jobs);
    std::thread::scope(|scope| -> Result<()> {
        let mut to_workers = Vec::new();
        let mut from_workers = Vec::new();
        for sim in sims.iter_mut() {
            let (tx, rx) = mpsc::sync_channel::<Block>(1);
            let (done_tx, done_rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(1);
            let give_back = give_back.clone();
            scope.spawn(move || {
                for b in rx {
                    let mut out = Vec::new();
                    let r = decide_run(sim, &lines(&b.bytes[..b.len]), b.first_line, &mut out);
                    let _ = give_back.try_send(b.bytes);
                    if done_tx.send(r.map(|()| out)).is_err() {
                        return;
                    }
                }
            });
            to_workers.push(tx);
            from_workers.push(done_rx);
        }
        let reader = scope.spawn(move || read_blocks(input, block, &to_workers, &reuse));
        // Results in the order the blocks were dealt; a closed channel means no more blocks.
        for k in 0.. {
            let Ok(r) = from_workers[k % jobs].recv() else {
                break;
            };
            out.write_all(&r.context("writing a result")?)?;
        }
        reader
            .join()
            .map_err(|_| anyhow!("the batch reader stopped unexpectedly"))?
            .context("reading the batch input")
    })
}

/// The reader thread: blocks of whole lines, dealt round-robin to the workers, until end of
/// input (or a worker hangs up).
fn read_blocks(
    mut input: Box<dyn Read + Send>,
    block: usize,
    workers: &[mpsc::SyncSender<Block>],
    reuse: &mpsc::Receiver<Vec<u8>>,
) -> io::Result<()> {
    let block = block.max(1);
    let mut buf = vec![0u8; block];
    let mut filled = 0usize;
    let mut first_line = 1usize;
    for k in 0.. {
        // Fill the buffer; grow it when one line is longer than all of it.
        let mut eof = false;
        let end = loop {
            while filled < buf.len() {
                match input.read(&mut buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if eof {
                break filled;
            }
            match memchr::memrchr(b'\n', &buf[..filled]) {
                Some(i) => break i + 1,
                None => {
                    let grown = buf.len() * 2;
                    buf.resize(grown, 0);
                }
            }
        };
        if end > 0 {
            // The partial last line moves to the next buffer; this one is sent as it is.
            let tail = filled - end;
            let mut next = reuse.try_recv().unwrap_or_default();
            if next.len() < block.max(tail) {
                next.resize(block.max(tail), 0);
            }
            next[..tail].copy_from_slice(&buf[end..filled]);
            let full = std::mem::replace(&mut buf, next);
            let lines = memchr::memchr_iter(b'\n', &full[..end]).count()
                + usize::from(full[end - 1] != b'\n');
            let b = Block {
                bytes: full,
                len: end,
                first_line,
            };
            if workers[k % workers.len()].send(b).is_err() {
                return Ok(());
            }
            first_line += lines;
            filled = tail;
        }
        if eof {
            return Ok(());
        }
    }
    Ok(())
}

/// The lines of a block (without their `\n`): a block ending in `\n` has no empty line after it.
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut out = Vec::new();
    let mut start = 0;
    for at in memchr::memchr_iter(b'\n', body) {
        out.push(&body[start..at]);
        start = at + 1;
    }
    out.push(&body[start..]);
    out
}

fn decide_run(
    sim: &mut Simulator,
    run: &[&[u8]],
    first_line: usize,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    for (k, line) in run.iter().enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            // Keep one result per line so results stay aligned with requests.
            let n = first_line + k;
            writeln!(
                out,
                "{}",
                json!({"error": format!("line {n}: empty request")})
            )?;
        } else {
            sim.write_result(line, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lines_of_a_block() {
        assert_eq!(lines(b"a\nb\n"), [&b"a"[..], b"b"]);
        assert_eq!(lines(b"a\n\nb"), [&b"a"[..], b"", b"b"]);
        assert_eq!(lines(b"\n"), [&b""[..]]);
    }

    /// Results come out one per line, in order, for any job count, across block boundaries.
    #[test]
    fn order_and_line_numbers_hold_for_any_job_count() {
        let req = r#"{"principal":"anonymous","action":"s3:GetObject","resource":"arn:aws:s3:::b/k","resource_account":"111122223333"}"#;
        let mut input = String::new();
        for i in 0..500 {
            if i % 7 == 3 {
                input.push('\n');
            } else {
                input.push_str(req);
                input.push('\n');
            }
        }
        let mut reference: Option<Vec<u8>> = None;
        // Blocks smaller than a line (grown), of a few lines, and the whole input.
        for (jobs, block) in [(1, BLOCK), (2, 100), (3, 1000), (8, 7), (2, BLOCK)] {
            let mut sims: Vec<Simulator> = (0..jobs).map(|_| Simulator::new()).collect();
            let mut out = Vec::new();
            let input = Box::new(io::Cursor::new(input.clone().into_bytes()));
            run_sized(input, &mut sims, &mut out, block).unwrap();
            let text = String::from_utf8(out.clone()).unwrap();
            assert_eq!(text.lines().count(), 500, "jobs {jobs}");
            let l4 = text.lines().nth(3).unwrap();
            assert!(l4.contains("line 4: empty request"), "{l4}");
            match &reference {
                None => reference = Some(out),
                Some(r) => assert_eq!(r, &out, "jobs {jobs}"),
            }
        }
    }
}
