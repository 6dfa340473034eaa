//! Video frames sampled like the reference: one frame per second by default, at most
//! `max_frames` (evenly down-sampled with `linspace`), with timestamps in seconds.

mod sampling;

pub use sampling::linspace_indices;
