"""Answers every study of a manifest on Ray: one HuluMed per actor, Ray Data's map_batches
spreading the studies, answers written as JSON Lines -- the same file `hulu batch` writes on
the same manifest, and resumable the same way (ids already in --out are skipped).

    # this machine (Ray starts locally):
    python examples/ray_archive.py --model tests/fixtures/models/tiny-qwen2 \
        --manifest studies.jsonl --out answers.jsonl --actors 2
    # a cluster: `ray up cluster.yaml`, then on the head node (or with RAY_ADDRESS set):
    python examples/ray_archive.py --address auto --model /models/Hulu-Med-7B \
        --manifest studies.jsonl --out answers.jsonl --actors 16 --gpus-per-actor 1

See README.md, "Many machines".
"""

from __future__ import annotations

import argparse
import json
import sys

import ray

import hulu.ray


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="checkpoint directory or Hub id")
    parser.add_argument("--manifest", required=True, help="studies, one JSON object a line")
    parser.add_argument("--out", required=True, help="answers, one JSON object a line (appended)")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: local)")
    parser.add_argument("--actors", type=int, default=1, help="model replicas (actors)")
    parser.add_argument("--gpus-per-actor", type=float, default=0, help="GPUs each actor holds")
    parser.add_argument("--cpus-per-actor", type=float, default=1, help="CPUs each actor holds")
    parser.add_argument("--batch-size", type=int, default=1, help="studies per map_batches call")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--options", default="{}", help="JSON options for every study")
    args = parser.parse_args(argv)

    ray.init(address=args.address, ignore_reinit_error=True)
    rows = hulu.ray.manifest_rows(args.manifest, hulu.ray.done_ids(args.out))
    if not rows:
        print("nothing to do: every study is answered", file=sys.stderr)
        return 0
    answers = ray.data.from_items(rows).map_batches(
        hulu.ray.HuluPredictor,
        fn_constructor_kwargs={
            "model": args.model,
            "device": args.device,
            "dtype": args.dtype,
            **json.loads(args.options),
        },
        batch_size=args.batch_size,
        concurrency=args.actors,
        num_gpus=args.gpus_per_actor,
        num_cpus=args.cpus_per_actor,
    )
    written = hulu.ray.write_answers(answers.iter_rows(), args.out)
    print(f"{written} studies answered into {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
