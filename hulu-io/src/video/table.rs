//! A track's samples from its sample table boxes (ISO/IEC 14496-12 §8.6–8.7: `stsz`, `stsc`,
//! `stco`/`co64`, `stts`, `ctts`), as parsed by `mp4parse`.
//!
//! Written here rather than taken from `mp4parse::unstable::create_sample_table` because
//! that function sizes its table from `stsc` × `stco` before checking it against `stsz`
//! (a hostile `stsc` asks for 2^32 × 2^32 entries) and sums the count unchecked. Here every
//! loop is bounded by the sample count `stsz` lists (which the file's size bounds), and every
//! offset is checked against the file.

use mp4parse::{TimeOffsetVersion, Track};

/// One sample: where it lies in the file and when it is presented.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Byte range in the file.
    pub range: (usize, usize),
    /// Composition (presentation) time, in the track's timescale, before any edit list.
    pub cts: i64,
    /// Decode duration, in the track's timescale.
    pub duration: u32,
}

/// The samples of `track` in decode order. `Err(reason)` for tables that disagree with each
/// other or point outside a file of `file_len` bytes.
pub fn samples(track: &Track, file_len: usize) -> Result<Vec<Sample>, String> {
    let (Some(stsz), Some(stsc), Some(stco), Some(stts)) =
        (&track.stsz, &track.stsc, &track.stco, &track.stts)
    else {
        return Err("the video track lacks a sample table box (stsz, stsc, stco or stts)".into());
    };
    // A constant sample size gives no count; the chunks do, bounded by the file's size.
    let count = if stsz.sample_size == 0 {
        stsz.sample_sizes.len()
    } else {
        file_len / stsz.sample_size as usize
    };
    let size_of = |i: usize| -> u64 {
        if stsz.sample_size == 0 {
            stsz.sample_sizes[i] as u64
        } else {
            stsz.sample_size as u64
        }
    };

    let runs = stsc.samples.as_slice();
    if runs.first().map(|r| r.first_chunk) != Some(1) && !stco.offsets.is_empty() {
        return Err("stsc does not start at chunk 1".into());
    }
    if runs
        .windows(2)
        .any(|w| w[1].first_chunk <= w[0].first_chunk)
    {
        return Err("stsc chunk numbers do not increase".into());
    }
    let mut out = Vec::new();
    let mut run = 0;
    'chunks: for (chunk, &offset) in stco.offsets.iter().enumerate() {
        while runs
            .get(run + 1)
            .is_some_and(|r| r.first_chunk as usize <= chunk + 1)
        {
            run += 1;
        }
        let Some(per_chunk) = runs.get(run).map(|r| r.samples_per_chunk) else {
            break;
        };
        let mut at = offset;
        for _ in 0..per_chunk {
            if out.len() == count {
                break 'chunks;
            }
            let end = at
                .checked_add(size_of(out.len()))
                .filter(|&e| e <= file_len as u64)
                .ok_or_else(|| format!("sample {} lies outside the file", out.len() + 1))?;
            out.push(Sample {
                range: (at as usize, end as usize),
                cts: 0,
                duration: 0,
            });
            at = end;
        }
    }
    if stsz.sample_size == 0 && out.len() != count {
        return Err(format!(
            "stsz lists {count} samples, the chunks hold {}",
            out.len()
        ));
    }

    // Decode times: stts runs, walked in step with the samples (a run's count may be 0 or
    // larger than what is left; only the samples bound the loop).
    let mut deltas = stts
        .samples
        .iter()
        .flat_map(|s| std::iter::repeat_n(s.sample_delta, s.sample_count as usize));
    let mut offsets = track.ctts.iter().flat_map(|c| {
        c.samples.iter().flat_map(|s| {
            let v = match s.time_offset {
                TimeOffsetVersion::Version0(v) => v as i64,
                TimeOffsetVersion::Version1(v) => v as i64,
            };
            std::iter::repeat_n(v, s.sample_count as usize)
        })
    });
    let mut dts: i64 = 0;
    let mut last_delta = 0;
    for s in &mut out {
        // Past the end of stts the last delta repeats, as FFmpeg's mov demuxer does.
        let delta = deltas.next().unwrap_or(last_delta);
        last_delta = delta;
        s.cts = dts.saturating_add(offsets.next().unwrap_or(0));
        s.duration = delta;
        dts = dts.saturating_add(delta as i64);
    }
    Ok(out)
}
