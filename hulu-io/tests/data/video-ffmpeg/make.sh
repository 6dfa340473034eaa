#!/usr/bin/env bash
# Makes the small MP4s in this folder and FFmpeg's own picks of them (run once by hand; the
# tests read the outputs and never need ffmpeg). Debian ffmpeg 7:5.1.9-0+deb12u1 (FFmpeg 5.1).
#
# Each clip: testsrc2 (moving colour patterns), 96x64, 10 fps, 3.5 s, libx264 with B-frames
# (so an edit list already takes the B-frame delay out). Expected frames are FFmpeg's
# `fps=1:round=down` picks as rgb24, one PNG each: exp-NAME-NN.png.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
src=(-f lavfi -i testsrc2=size=96x64:rate=10:duration=3.5)
x264=(-c:v libx264 -preset veryslow -crf 28 -g 10 -bf 2 -movflags +faststart -map_metadata -1 -fflags +bitexact)
enc() { ffmpeg -v error -y "${src[@]}" "${x264[@]}" "$@"; }

enc -pix_fmt yuv420p video-plain.mp4
# FFmpeg 5.1 writes a display matrix for the `rotate` tag only when copying a stream.
for r in 90 180 270; do
  ffmpeg -v error -y -i video-plain.mp4 -c copy -map_metadata -1 -metadata:s:v rotate=$r video-rot$r.mp4
done
enc -pix_fmt yuvj420p -color_range pc video-full-range.mp4
enc -pix_fmt yuv420p -colorspace bt709 -color_primaries bt709 -color_trc bt709 video-bt709.mp4
enc -pix_fmt yuvj420p -color_range pc -colorspace bt709 -color_primaries bt709 -color_trc bt709 \
  video-full-bt709.mp4
# Presentation starts 1.35 s into the media, mid-GOP: the edit list skips the samples before.
ffmpeg -v error -y -ss 1.35 -i video-plain.mp4 -c copy -map_metadata -1 video-edit-list.mp4

rm -f exp-*.png
for f in video-*.mp4; do
  name="${f%.mp4}"
  ffmpeg -v error -i "$f" -map 0:v:0 -vf fps=1:round=down -pix_fmt rgb24 "exp-${name#video-}-%02d.png"
done
