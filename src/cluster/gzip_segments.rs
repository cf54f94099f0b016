//! One gzip member built from separately deflated segments, so that a large config is
//! re-compressed only where it changed. Each segment is raw deflate ending in a full
//! flush (byte-aligned, dictionary reset), so segments compressed on their own
//! concatenate into one valid stream (RFC 1951 3.2.3: blocks need not end on a
//! segment's boundary to be read, and a full flush makes each segment independent);
//! the gzip trailer's CRC-32 is combined from the segments' CRCs (RFC 1952 2.3.1).
//! Kong's data plane inflates the frame with zlib like any other gzip.

use flate2::{Compress, Compression, FlushCompress};

/// Level of the cached segments: compressed once, sent many times.
pub const SEGMENT_LEVEL: u32 = 6;

/// A deflated segment with what the trailer needs of it.
#[derive(Debug, Clone)]
pub struct Segment {
    pub deflated: Vec<u8>,
    pub crc: u32,
    pub len: u64,
}

impl Segment {
    pub fn heap_bytes(&self) -> usize {
        self.deflated.capacity()
    }
}

/// Deflates segments with one reusable compressor.
pub struct Deflater {
    compress: Compress,
}

impl Deflater {
    pub fn new(level: u32) -> Self {
        Deflater {
            compress: Compress::new(Compression::new(level), false),
        }
    }

    /// `input` as an independent full-flushed segment.
    pub fn segment(&mut self, input: &[u8]) -> Segment {
        self.compress.reset();
        let mut out = Vec::with_capacity(input.len() / 3 + 64);
        loop {
            let consumed = self.compress.total_in() as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(input.len() / 4 + 64);
            }
            self.compress
                .compress_vec(&input[consumed..], &mut out, FlushCompress::Full)
                .expect("deflate into memory");
            // Done once all input is in and the flush did not fill the output.
            if self.compress.total_in() as usize == input.len() && out.len() < out.capacity() {
                break;
            }
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(input);
        Segment {
            deflated: out,
            crc: crc.finalize(),
            len: input.len() as u64,
        }
    }
}

thread_local! {
    /// One compressor per level per thread (about 300 KiB each): kept by the threads that
    /// encode, not by every control plane's export state.
    static DEFLATERS: std::cell::RefCell<Vec<(u32, Deflater)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `input` as an independent full-flushed segment at `level`, with this thread's
/// compressor for that level.
pub fn segment(level: u32, input: &[u8]) -> Segment {
    DEFLATERS.with_borrow_mut(|deflaters| {
        let at = match deflaters.iter().position(|(l, _)| *l == level) {
            Some(at) => at,
            None => {
                deflaters.push((level, Deflater::new(level)));
                deflaters.len() - 1
            }
        };
        deflaters[at].1.segment(input)
    })
}

/// Concatenates segments into one gzip member.
pub fn gzip<'a>(segments: impl IntoIterator<Item = &'a Segment>) -> Vec<u8> {
    let segments: Vec<&Segment> = segments.into_iter().collect();
    let size: usize = segments.iter().map(|s| s.deflated.len()).sum();
    let mut out = Vec::with_capacity(size + 20);
    // ID1 ID2, deflate, no flags, no mtime, no extra flags, OS unknown.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let mut crc = crc32fast::Hasher::new();
    let mut len: u64 = 0;
    for segment in segments {
        out.extend_from_slice(&segment.deflated);
        crc.combine(&crc32fast::Hasher::new_with_initial_len(
            segment.crc,
            segment.len,
        ));
        len += segment.len;
    }
    // An empty final block with fixed codes: BFINAL=1, BTYPE=01, end-of-block.
    out.extend_from_slice(&[0x03, 0x00]);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    }

    #[test]
    fn segments_make_one_valid_member_whatever_their_sizes() {
        let mut deflater = Deflater::new(SEGMENT_LEVEL);
        let parts: Vec<Vec<u8>> = vec![
            b"{\"a\":[".to_vec(),
            Vec::new(),
            (0..200_000u32)
                .flat_map(|i| (i % 251).to_le_bytes())
                .collect(),
            b"x".repeat(100_000),
            b"]}".to_vec(),
        ];
        let segments: Vec<Segment> = parts.iter().map(|p| deflater.segment(p)).collect();
        let whole = gzip(&segments);
        assert_eq!(gunzip(&whole), parts.concat());
        // The CRC check is real: a flipped trailer byte is refused.
        let mut broken = whole.clone();
        let at = broken.len() - 6;
        broken[at] ^= 1;
        let mut out = Vec::new();
        assert!(
            flate2::read::GzDecoder::new(&broken[..])
                .read_to_end(&mut out)
                .is_err()
        );
        // Nothing at all is a valid empty member too.
        assert_eq!(gunzip(&gzip([])), b"");
    }
}
