//! Request body decoding: `Content-Encoding` gzip, deflate, br, zstd or
//! identity (PROTOCOL.md §3), streamed into a bounded buffer.
//!
//! Compressed chunks are fed to the decoder as they arrive, and the decoder
//! writes into a [`BoundedSink`] that fails as soon as the decoded size would
//! pass the limit. A decompression bomb therefore costs at most `limit` bytes
//! of memory and the time to inflate them, never the whole bomb.
//!
//! ```
//! use std::io::Write;
//! use receiver::ingest::decode::{BodyDecoder, DecodeError, Encoding};
//!
//! let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
//! gz.write_all(&[b'a'; 10_000]).unwrap();
//! let compressed = gz.finish().unwrap();
//!
//! let mut ok = BodyDecoder::new(Encoding::Gzip, 10_000).unwrap();
//! ok.write(&compressed).unwrap();
//! assert_eq!(ok.finish().unwrap().len(), 10_000);
//!
//! let mut bomb = BodyDecoder::new(Encoding::Gzip, 9_999).unwrap();
//! let err = bomb.write(&compressed).and_then(|()| bomb.finish().map(drop)).unwrap_err();
//! assert!(matches!(err, DecodeError::TooLarge { limit: 9_999 }));
//! ```

use std::fmt;
use std::io::{self, Write};

use hyper::header::HeaderValue;

use super::IngestError;

/// A request body encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No encoding (also an empty header and the `UTF-8` old SDKs send).
    Identity,
    /// `gzip` or `x-gzip` (concatenated members are accepted).
    Gzip,
    /// `deflate`: zlib-wrapped (RFC 1950), not raw deflate.
    Deflate,
    /// `br`
    Brotli,
    /// `zstd`
    Zstd,
}

impl Encoding {
    /// Parses a `Content-Encoding` header. Unknown or stacked encodings
    /// (`gzip, br`) are a 415.
    pub fn from_header(value: Option<&HeaderValue>) -> Result<Encoding, IngestError> {
        let Some(value) = value else {
            return Ok(Encoding::Identity);
        };
        let text = value
            .to_str()
            .unwrap_or("\u{fffd}")
            .trim()
            .to_ascii_lowercase();
        Ok(match text.as_str() {
            // `none` is no registered token, but clients send it to mean
            // what `identity` means (and issue 6 names it).
            "" | "identity" | "none" | "utf-8" => Encoding::Identity,
            "gzip" | "x-gzip" => Encoding::Gzip,
            "deflate" => Encoding::Deflate,
            "br" => Encoding::Brotli,
            "zstd" => Encoding::Zstd,
            other => {
                return Err(IngestError::UnsupportedEncoding {
                    detail: format!(
                        "unsupported Content-Encoding {other:?}: send one of gzip, deflate, br, \
                         zstd or identity"
                    ),
                })
            }
        })
    }
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The decoded body passed the limit.
    #[error("the decoded body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The compressed data is invalid.
    #[error("failed to decode {encoding} body: {source}")]
    Invalid {
        /// The encoding.
        encoding: EncodingName,
        /// What the decoder said.
        #[source]
        source: io::Error,
    },
}

/// The name of an encoding, for messages.
#[derive(Debug, Clone, Copy)]
pub struct EncodingName(pub Encoding);

impl fmt::Display for EncodingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
            Encoding::Brotli => "br",
            Encoding::Zstd => "zstd",
        })
    }
}

/// A growable buffer that refuses to grow past `limit`.
#[derive(Debug)]
pub struct BoundedSink {
    buf: Vec<u8>,
    limit: u64,
    exceeded: bool,
}

impl BoundedSink {
    /// An empty sink that accepts up to `limit` bytes.
    pub fn new(limit: u64) -> Self {
        BoundedSink {
            buf: Vec::new(),
            limit,
            exceeded: false,
        }
    }

    /// Whether a write was refused because of the limit.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// The bytes written so far.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
}

impl Write for BoundedSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() as u64 + data.len() as u64 > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("decoded size limit exceeded"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Inner {
    Identity(BoundedSink),
    /// Gzip input kept whole while it is at most [`WHOLE_GZIP_MAX`] bytes.
    GzipWhole(Vec<u8>),
    Gzip(flate2::write::MultiGzDecoder<BoundedSink>),
    Deflate(flate2::write::ZlibDecoder<BoundedSink>),
    Brotli(Box<brotli::DecompressorWriter<BoundedSink>>),
    Zstd(Box<ZstdStream>),
}

/// The largest zstd window a body may ask for: 2^24 bytes (16 MiB).
const ZSTD_WINDOW_LOG_MAX: u32 = 24;

/// zstd decoding that knows whether the last frame ended: the crate's
/// writer flushes whatever it has, so a cut-off body would pass for a
/// shorter one.
struct ZstdStream {
    decoder: zstd::stream::raw::Decoder<'static>,
    sink: BoundedSink,
    /// Whether a frame has begun and not ended.
    in_frame: bool,
    buf: Vec<u8>,
}

impl ZstdStream {
    fn new(sink: BoundedSink) -> io::Result<Self> {
        let mut decoder = zstd::stream::raw::Decoder::new()?;
        // The frame header names the window the decoder allocates: up to
        // 128 MiB by zstd's default, for a few bytes of body. SDKs compress
        // envelopes far below 16 MiB windows.
        decoder.set_parameter(zstd::stream::raw::DParameter::WindowLogMax(
            ZSTD_WINDOW_LOG_MAX,
        ))?;
        Ok(ZstdStream {
            decoder,
            sink,
            in_frame: false,
            buf: vec![0; 32 * 1024],
        })
    }

    /// Decodes `chunk` (empty: what the decoder still holds).
    fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
        let mut input = InBuffer::around(chunk);
        loop {
            let mut output = OutBuffer::around(&mut self.buf[..]);
            let hint = self.decoder.run(&mut input, &mut output)?;
            let (written, full) = (output.pos(), output.pos() == self.buf.len());
            if written > 0 || !chunk.is_empty() {
                // 0: the frame is decoded and flushed; more: it goes on.
                self.in_frame = hint != 0;
            }
            self.sink.write_all(&self.buf[..written])?;
            if input.pos() == chunk.len() && !full {
                return Ok(());
            }
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        self.write(&[])?;
        if self.in_frame {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the zstd stream ends inside a frame (truncated body)",
            ));
        }
        Ok(())
    }
}

/// A streaming body decoder with a decoded-size limit.
pub struct BodyDecoder {
    encoding: Encoding,
    limit: u64,
    inner: Inner,
}

impl fmt::Debug for BodyDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyDecoder")
            .field("encoding", &self.encoding)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl BodyDecoder {
    /// A decoder for `encoding` whose output may be at most `limit` bytes.
    pub fn new(encoding: Encoding, limit: u64) -> Result<Self, DecodeError> {
        let sink = BoundedSink::new(limit);
        let inner = match encoding {
            Encoding::Identity => Inner::Identity(sink),
            Encoding::Gzip => Inner::GzipWhole(Vec::new()),
            Encoding::Deflate => Inner::Deflate(flate2::write::ZlibDecoder::new(sink)),
            Encoding::Brotli => {
                Inner::Brotli(Box::new(brotli::DecompressorWriter::new(sink, 8192)))
            }
            Encoding::Zstd => Inner::Zstd(Box::new(ZstdStream::new(sink).map_err(|source| {
                DecodeError::Invalid {
                    encoding: EncodingName(encoding),
                    source,
                }
            })?)),
        };
        Ok(BodyDecoder {
            encoding,
            limit,
            inner,
        })
    }

    fn sink(&self) -> Option<&BoundedSink> {
        Some(match &self.inner {
            Inner::Identity(s) => s,
            Inner::GzipWhole(_) => return None,
            Inner::Gzip(d) => d.get_ref(),
            Inner::Deflate(d) => d.get_ref(),
            Inner::Brotli(d) => d.get_ref(),
            Inner::Zstd(d) => &d.sink,
        })
    }

    fn map_err(&self, source: io::Error) -> DecodeError {
        if self.sink().is_some_and(BoundedSink::exceeded) {
            DecodeError::TooLarge { limit: self.limit }
        } else {
            DecodeError::Invalid {
                encoding: EncodingName(self.encoding),
                source,
            }
        }
    }

    /// Whether feeding `chunk_len` more bytes is cheap: a copy (identity)
    /// or keeping a small gzip body until it ends. Any other decoding can
    /// expand a chunk of a few bytes up to the decoded limit, which takes
    /// tens of milliseconds: work for a thread that may block.
    pub fn cheap_to_write(&self, chunk_len: usize) -> bool {
        match &self.inner {
            Inner::Identity(_) => true,
            Inner::GzipWhole(kept) => kept.len() + chunk_len <= WHOLE_GZIP_MAX,
            _ => false,
        }
    }

    /// [`BodyDecoder::finish`] when that is cheap: identity, or a small
    /// gzip body of one member whose trailer promises at most
    /// [`CHEAP_DECODE_MAX`] bytes. Otherwise the decoder comes back, to be
    /// finished where blocking is fine.
    ///
    /// ```
    /// use std::io::Write;
    /// use receiver::ingest::decode::{BodyDecoder, Encoding};
    ///
    /// let gzip = |data: &[u8]| {
    ///     let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    ///     e.write_all(data).unwrap();
    ///     e.finish().unwrap()
    /// };
    /// let mut event = BodyDecoder::new(Encoding::Gzip, 8 << 20).unwrap();
    /// event.write(&gzip(&[b'e'; 10_000])).unwrap();
    /// assert_eq!(event.finish_cheaply().unwrap().unwrap().len(), 10_000);
    ///
    /// // 4 MiB from 4 KB: decoded, but not here.
    /// let mut big = BodyDecoder::new(Encoding::Gzip, 8 << 20).unwrap();
    /// big.write(&gzip(&vec![0; 4 << 20])).unwrap();
    /// let big = big.finish_cheaply().unwrap_err();
    /// assert_eq!((*big).finish().unwrap().len(), 4 << 20);
    /// ```
    pub fn finish_cheaply(self) -> Result<Result<Vec<u8>, DecodeError>, Box<BodyDecoder>> {
        match &self.inner {
            Inner::Identity(_) => Ok(self.finish()),
            Inner::GzipWhole(whole)
                if trailer_size(whole).is_some_and(|n| u64::from(n) <= CHEAP_DECODE_MAX) =>
            {
                match gunzip_one_member(whole, self.limit) {
                    Some(decoded) => Ok(Ok(decoded)),
                    None => Err(Box::new(self)),
                }
            }
            _ => Err(Box::new(self)),
        }
    }

    /// Bytes held so far: decoded output, or the encoded input while a
    /// small gzip body is kept whole until it ends.
    pub fn held_len(&self) -> u64 {
        match &self.inner {
            Inner::GzipWhole(kept) => kept.len() as u64,
            _ => self.sink().map_or(0, |s| s.buf.len() as u64),
        }
    }

    /// Feeds one chunk of the encoded body.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        if let Inner::GzipWhole(whole) = &mut self.inner {
            if whole.len() + chunk.len() <= WHOLE_GZIP_MAX {
                whole.extend_from_slice(chunk);
                return Ok(());
            }
            // Too big to keep: decoded as it streams from here on.
            self.stream_what_was_kept()?;
        }
        let result = match &mut self.inner {
            Inner::Identity(s) => s.write_all(chunk),
            Inner::GzipWhole(_) => Ok(()),
            Inner::Gzip(d) => d.write_all(chunk),
            Inner::Deflate(d) => d.write_all(chunk),
            Inner::Brotli(d) => d.write_all(chunk),
            Inner::Zstd(d) => d.write(chunk),
        };
        result.map_err(|e| self.map_err(e))
    }

    /// Switches kept gzip input to the streaming decoder, feeding it what
    /// was kept.
    fn stream_what_was_kept(&mut self) -> Result<(), DecodeError> {
        let streaming = Inner::Gzip(flate2::write::MultiGzDecoder::new(BoundedSink::new(
            self.limit,
        )));
        if let Inner::GzipWhole(kept) = std::mem::replace(&mut self.inner, streaming) {
            self.write(&kept)?;
        }
        Ok(())
    }

    /// Ends the stream and returns the decoded body.
    pub fn finish(mut self) -> Result<Vec<u8>, DecodeError> {
        if let Inner::GzipWhole(whole) = &self.inner {
            if let Some(decoded) = gunzip_one_member(whole, self.limit) {
                return Ok(decoded);
            }
            // Anything else (several members, a bad or lying trailer, too
            // large, invalid data) goes through the streaming decoder,
            // which says what is wrong.
            self.stream_what_was_kept()?;
        }
        let result = match &mut self.inner {
            Inner::Identity(_) | Inner::GzipWhole(_) => Ok(()),
            Inner::Gzip(d) => d.try_finish(),
            Inner::Deflate(d) => d.try_finish(),
            Inner::Brotli(d) => d.close(),
            Inner::Zstd(d) => d.finish(),
        };
        if let Err(e) = result {
            return Err(self.map_err(e));
        }
        let encoding = EncodingName(self.encoding);
        match self.inner {
            Inner::Identity(s) => Ok(s.into_inner()),
            Inner::GzipWhole(_) => Ok(Vec::new()),
            Inner::Gzip(d) => d
                .finish()
                .map(BoundedSink::into_inner)
                .map_err(|source| DecodeError::Invalid { encoding, source }),
            Inner::Deflate(d) => d
                .finish()
                .map(BoundedSink::into_inner)
                .map_err(|source| DecodeError::Invalid { encoding, source }),
            Inner::Brotli(d) => {
                d.into_inner()
                    .map(BoundedSink::into_inner)
                    .map_err(|_| DecodeError::Invalid {
                        encoding,
                        source: io::Error::other("truncated brotli stream"),
                    })
            }
            Inner::Zstd(d) => Ok(d.sink.into_inner()),
        }
    }
}

impl From<DecodeError> for IngestError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::TooLarge { .. } => IngestError::TooLarge {
                detail: e.to_string(),
            },
            DecodeError::Invalid { .. } => IngestError::BadRequest {
                detail: e.to_string(),
            },
        }
    }
}

/// Decoded bytes up to which finishing a small gzip body is done wherever
/// the caller is (see [`BodyDecoder::finish_cheaply`]): under a millisecond.
pub const CHEAP_DECODE_MAX: u64 = 1024 * 1024;

/// The decoded size a gzip body's last trailer states (modulo 2^32).
fn trailer_size(data: &[u8]) -> Option<u32> {
    let size: [u8; 4] = data.get(data.len().checked_sub(4)?..)?.try_into().ok()?;
    Some(u32::from_le_bytes(size))
}

/// Gzip bodies up to this size are kept until they are complete, so that a
/// body of one member can be decoded in one call (`gunzip_one_member`).
/// Most event bodies are a few KB; larger ones are decoded as they arrive.
pub const WHOLE_GZIP_MAX: usize = 64 * 1024;

thread_local! {
    static LIBDEFLATE: std::cell::RefCell<libdeflater::Decompressor> =
        std::cell::RefCell::new(libdeflater::Decompressor::new());
}

/// A complete gzip body of exactly one member, decoded with libdeflate
/// (~1.6x zlib-rs on event bodies) into a buffer of the size its trailer
/// gives; `None` for anything else, which the streaming decoder handles.
///
/// libdeflate checks the first member's CRC and size but does not say
/// where that member ended. So the body's last eight bytes (the trailer of
/// its last member) must also be the CRC and size of what was decoded:
/// true for a single member, and for several only if the last one's
/// content has the same CRC-32 and length as the first's, which a client
/// would have to contrive (and would then lose only its own later
/// members). The size is trusted only within `limit` and deflate's
/// largest ratio (1032:1) to the body's length.
fn gunzip_one_member(data: &[u8], limit: u64) -> Option<Vec<u8>> {
    let trailer: [u8; 8] = data.get(data.len().checked_sub(8)?..)?.try_into().ok()?;
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]) as usize;
    if size as u64 > limit || size > data.len().saturating_mul(1032) {
        return None;
    }
    let mut out = vec![0u8; size];
    let written = LIBDEFLATE.with(|d| {
        d.try_borrow_mut()
            .ok()?
            .gzip_decompress(data, &mut out)
            .ok()
    })?;
    (written == size && libdeflater::crc32(&out) == crc).then_some(out)
}

/// Decodes a whole buffer at once (tests and the store endpoint's
/// base64+zlib path).
pub fn decode_all(encoding: Encoding, data: &[u8], limit: u64) -> Result<Vec<u8>, DecodeError> {
    let mut decoder = BodyDecoder::new(encoding, limit)?;
    for chunk in data.chunks(16 * 1024) {
        decoder.write(chunk)?;
    }
    decoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress(encoding: Encoding, data: &[u8]) -> Vec<u8> {
        match encoding {
            Encoding::Identity => data.to_vec(),
            Encoding::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).expect("gzip");
                e.finish().expect("gzip")
            }
            Encoding::Deflate => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).expect("zlib");
                e.finish().expect("zlib")
            }
            Encoding::Brotli => {
                let mut out = Vec::new();
                {
                    let mut w = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
                    w.write_all(data).expect("br");
                }
                out
            }
            Encoding::Zstd => zstd::encode_all(data, 3).expect("zstd"),
        }
    }

    const ALL: [Encoding; 5] = [
        Encoding::Identity,
        Encoding::Gzip,
        Encoding::Deflate,
        Encoding::Brotli,
        Encoding::Zstd,
    ];

    #[test]
    fn every_encoding_round_trips() {
        let data: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for enc in ALL {
            let out = decode_all(enc, &compress(enc, &data), 1 << 20).expect("decode");
            assert_eq!(out, data, "{enc:?}");
        }
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let data = vec![0u8; 4 << 20];
        for enc in ALL {
            let err = decode_all(enc, &compress(enc, &data), 1 << 20).unwrap_err();
            assert!(
                matches!(err, DecodeError::TooLarge { .. }),
                "{enc:?}: {err}"
            );
        }
    }

    #[test]
    fn gzip_members_and_lying_trailers_decode_whole_or_streamed() {
        let first: Vec<u8> = (0..20_000u32)
            .flat_map(|i| (i % 300).to_le_bytes())
            .collect();
        let second = b"and a second member".repeat(100);
        // One member: the one-call path, whole or in chunks.
        let one = compress(Encoding::Gzip, &first);
        assert!(one.len() < WHOLE_GZIP_MAX);
        assert_eq!(
            gunzip_one_member(&one, 1 << 20).as_deref(),
            Some(&first[..])
        );
        // Two members: not for the one-call path; the streaming decoder
        // gives both, in order.
        let mut two = one.clone();
        two.extend(compress(Encoding::Gzip, &second));
        assert_eq!(gunzip_one_member(&two, 1 << 20), None);
        let expected = [first.as_slice(), second.as_slice()].concat();
        for chunk in [1024, WHOLE_GZIP_MAX] {
            let mut d = BodyDecoder::new(Encoding::Gzip, 1 << 20).expect("decoder");
            for part in two.chunks(chunk) {
                d.write(part).expect("write");
            }
            assert_eq!(d.finish().expect("two members"), expected, "{chunk}");
        }
        // Past WHOLE_GZIP_MAX the decoder streams: the same answer.
        let big: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i * 7919).to_le_bytes())
            .collect();
        let mut members = compress(Encoding::Gzip, &big);
        assert!(members.len() > WHOLE_GZIP_MAX, "{}", members.len());
        members.extend(compress(Encoding::Gzip, &second));
        let out = decode_all(Encoding::Gzip, &members, 1 << 22).expect("streamed");
        assert_eq!(out, [big.as_slice(), second.as_slice()].concat());
        // A trailer that lies about the size: no 4 GiB buffer, an error.
        let mut lying = compress(Encoding::Gzip, &second);
        let at = lying.len() - 4;
        lying[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(gunzip_one_member(&lying, u64::MAX), None);
        let err = decode_all(Encoding::Gzip, &lying, 1 << 20).unwrap_err();
        assert!(matches!(err, DecodeError::Invalid { .. }), "{err}");
        // Over the limit: the streaming decoder's 413.
        let err = decode_all(Encoding::Gzip, &one, 1000).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn a_cut_off_body_is_invalid_not_shorter() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 977).to_le_bytes())
            .collect();
        for enc in [
            Encoding::Gzip,
            Encoding::Deflate,
            Encoding::Brotli,
            Encoding::Zstd,
        ] {
            let whole = compress(enc, &data);
            let cut = &whole[..whole.len() * 6 / 10];
            let err = decode_all(enc, cut, 1 << 22).unwrap_err();
            assert!(matches!(err, DecodeError::Invalid { .. }), "{enc:?}: {err}");
        }
        // Two whole zstd frames are one body, as two gzip members are.
        let mut two = compress(Encoding::Zstd, b"first ");
        two.extend(compress(Encoding::Zstd, b"second"));
        assert_eq!(
            decode_all(Encoding::Zstd, &two, 100).unwrap(),
            b"first second"
        );
        // An empty body stays empty (and is refused later as such).
        assert!(decode_all(Encoding::Zstd, b"", 100).unwrap().is_empty());
    }

    #[test]
    fn a_zstd_frame_asking_for_a_huge_window_is_invalid() {
        use zstd::stream::raw::CParameter;
        let frame = |window_log: u32| {
            let mut encoder = zstd::stream::Encoder::new(Vec::new(), 1).expect("encoder");
            encoder
                .set_parameter(CParameter::WindowLog(window_log))
                .expect("window");
            std::io::Write::write_all(&mut encoder, b"tiny").expect("write");
            encoder.finish().expect("finish")
        };
        let err = decode_all(Encoding::Zstd, &frame(26), 1 << 20).unwrap_err();
        assert!(matches!(err, DecodeError::Invalid { .. }), "{err}");
        assert_eq!(
            decode_all(Encoding::Zstd, &frame(24), 1 << 20).unwrap(),
            b"tiny"
        );
    }

    #[test]
    fn garbage_is_invalid() {
        for enc in [
            Encoding::Gzip,
            Encoding::Deflate,
            Encoding::Brotli,
            Encoding::Zstd,
        ] {
            let err = decode_all(enc, b"this is not compressed at all", 1 << 20).unwrap_err();
            assert!(matches!(err, DecodeError::Invalid { .. }), "{enc:?}");
        }
    }

    #[test]
    fn header_values() {
        let p = |s: &'static str| Encoding::from_header(Some(&HeaderValue::from_static(s)));
        assert_eq!(p(" GZIP ").unwrap(), Encoding::Gzip);
        assert_eq!(p("x-gzip").unwrap(), Encoding::Gzip);
        assert_eq!(p("UTF-8").unwrap(), Encoding::Identity);
        assert_eq!(p("").unwrap(), Encoding::Identity);
        assert_eq!(p("gzip, br").unwrap_err().status().as_u16(), 415);
        assert_eq!(p("compress").unwrap_err().status().as_u16(), 415);
    }
}
