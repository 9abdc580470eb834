"""Command line: ``hcmgan fit ...``, ``hcmgan split ...``, ``hcmgan report RUN_DIR``, ``hcmgan data fetch``
(``hcmgan`` is the same as ``python -m hcmgan_lite``).

Imports: settings, training, growth, runs, predict, data, fetch.
"""
from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import sys

from .settings import PROFILES


def _value(text: str):
    """A --set value: a Python literal when it parses as one, else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parse_sets(items) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--set takes NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        if k.strip() in ("seed", "profile"):
            raise ValueError(f"use --{k.strip()} instead of --set {k.strip()}=...")
        out[k.strip()] = _value(v.strip())
    return out


def _classes(text):
    if text is None:
        return None
    return [int(c) if c.strip().isdigit() else c.strip() for c in text.split(",")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="hcmgan",
                                description="Top-down hierarchical clustering of images with multi-generator GANs.")
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="grow a tree on a dataset (resumes an interrupted run in the same run dir)")
    f.add_argument("dataset", help="mnist, fashion-mnist or sop")
    f.add_argument("--run-dir", required=True, help="where checkpoints and the report go")
    f.add_argument("--profile", default="quick", choices=list(PROFILES))
    f.add_argument("--clusters", type=int, default=10, help="leaves to grow (default 10)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")
    f.add_argument("--data-root", default=None, help="data folder (default: $HCMGAN_DATA, else the checkout's data/; "
                                                               "see `hcmgan data where`)")
    f.add_argument("--classes", default=None, help="comma-separated class indices or names to keep")
    f.add_argument("--per-class", type=int, default=None, help="images per class to keep")
    f.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="override a setting, e.g. --set refinements=4 --set lr_c=1e-4 (repeatable)")
    f.add_argument("--executor", default="inline", choices=["inline", "processes", "ray"],
                   help="inline: one split at a time (default); processes: several at once in local worker "
                        "processes; ray: each split a Ray task. The tree is the same")
    f.add_argument("--workers", type=int, default=None,
                   help="splits trained at once (processes/ray; default: CPU cores, or two per GPU on CUDA; "
                        "several workers share a GPU when there are more workers than GPUs)")
    f.add_argument("--ray-address", default=None, help="an existing Ray cluster (default: start Ray locally)")
    f.add_argument("--no-report", action="store_true", help="do not write the report at the end")
    f.add_argument("--baselines", action="store_true", help="also run k-means and Ward on the same images")
    sp = sub.add_parser("split", help="one split of a dataset's images (raw split + refinements), measured: "
                                      "ACC, purity, generator spread, time (JSON)")
    sp.add_argument("dataset", help="mnist, fashion-mnist or sop")
    sp.add_argument("--out", required=True, help="JSON file to write")
    sp.add_argument("--variant", default="authors' code", help="a name for this run in ablation tables")
    sp.add_argument("--profile", default="quick", choices=list(PROFILES))
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--device", default="cpu", help="cpu (default), cuda, auto, ...")
    sp.add_argument("--data-root", default=None)
    sp.add_argument("--classes", default=None, help="comma-separated class indices or names to keep")
    sp.add_argument("--per-class", type=int, default=None, help="images per class to keep")
    sp.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a setting (repeatable)")
    sp.add_argument("--save-nets", default=None, metavar="FILE.pt",
                    help="also keep the raw split's trained generators and critic in this file")
    r = sub.add_parser("report", help="scores, per-split purity, tree figure of a run dir (JSON + Markdown)")
    r.add_argument("run_dir")
    r.add_argument("--baselines", action="store_true", help="also run k-means and Ward on the same images")
    r.add_argument("--data-root", default=None)
    pr = sub.add_parser("predict", help="cluster images with a grown tree (its kept classifiers): labels as JSON, "
                                        "and ACC/NMI where the images have labels")
    pr.add_argument("run_dir", help="a run dir (or its tree.pt) grown with classifiers")
    pr.add_argument("--data", required=True, metavar="NAME_OR_FILE",
                    help="a data set name (mnist, fashion-mnist, sop) or a .npy/.pt file of images")
    pr.add_argument("--classes", default=None, help="comma-separated class indices or names to keep")
    pr.add_argument("--per-class", type=int, default=None, help="images per class to keep")
    pr.add_argument("--unseen", action="store_true",
                    help="only the images of the data set the run was not grown on (its config.json says which)")
    pr.add_argument("--clusters", type=int, default=None, help="cut the tree at this many leaves (default: all)")
    pr.add_argument("--device", default="auto")
    pr.add_argument("--data-root", default=None)
    pr.add_argument("--out", default=None, help="JSON file for the labels (default: RUN_DIR/predictions.json)")
    dp = sub.add_parser("data", help="where the loaders look for MNIST and Fashion-MNIST, and how to put them there")
    dsub = dp.add_subparsers(dest="data_cmd", required=True)
    df = dsub.add_parser("fetch", help="download with torchvision (needs internet), or copy the IDX files of a "
                                       "folder with --from, into the data folder")
    df.add_argument("datasets", nargs="*", default=["fashion-mnist", "mnist"],
                    help="fashion-mnist and/or mnist (default: both)")
    df.add_argument("--from", dest="source", default=None, metavar="FOLDER",
                    help="copy from this folder instead of downloading (e.g. ../shared/data)")
    df.add_argument("--to", default=None, metavar="FOLDER",
                    help="the data folder (default: $HCMGAN_DATA, else the checkout's data/)")
    dw = dsub.add_parser("where", help="print the data folder the loaders use and what it holds")
    dw.add_argument("--data-root", default=None)
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO level)")
    for sub_p in (f, sp, r, pr, df, dw):  # also accepted after the subcommand
        sub_p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log progress")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")

    from . import runs
    from .training import CollapseError
    from .growth import RunDirInUse
    try:
        if args.cmd == "fit":
            runs.fit(args.dataset, args.run_dir, args.clusters, args.profile, args.seed, args.device,
                            args.data_root, _classes(args.classes), args.per_class, executor=args.executor,
                            workers=args.workers, ray_address=args.ray_address, announce=print,
                            **_parse_sets(args.set))
            if not args.no_report:
                rep = runs.report(args.run_dir, with_baselines=args.baselines, root=args.data_root)
                print(runs.report_markdown(rep))
        elif args.cmd == "split":
            out = _writable(args.out)   # before hours of training, not after
            nets = _writable(args.save_nets) if args.save_nets else None
            res = runs.split_experiment(args.dataset, _classes(args.classes), args.per_class, args.profile,
                                               args.seed, args.device, args.data_root, announce=print,
                                               save_nets=nets, **_parse_sets(args.set))
            res["variant"] = args.variant
            out = _write_or_keep(out, json.dumps(res, indent=2, default=runs._jsonable))
            for st in res["stages"]:
                c = st["collapse"]
                print(f"{st['stage']}: ACC {st['acc']:.3f}, purity {st['purity']:.3f}, generator spread "
                      f"{c['final_g_spread']:.3f} ({c['final_spread_ratio']:.2f} of the real images'), "
                      f"collapse check {'fires' if c['flagged'] else 'quiet'}, {st['seconds']:.0f} s")
            print(f"written: {out}")
        elif args.cmd == "predict":
            out = _writable(args.out) if args.out else None
            from .predict import predict_run
            res = predict_run(args.run_dir, args.data, classes=_classes(args.classes), per_class=args.per_class,
                                   unseen=args.unseen, n_clusters=args.clusters, device=args.device,
                                   root=args.data_root, announce=print)
            from pathlib import Path
            out = out or Path(res["run_dir"]) / "predictions.json"
            out = _write_or_keep(out, json.dumps(res, default=runs._jsonable))
            sizes = ", ".join(f"{n:,}" for n in res["cluster_sizes"])
            print(f"{res['n_images']:,} images into {res['n_clusters']} clusters ({sizes})"
                  + (f"; ACC {res['scores']['acc']:.3f}, NMI {res['scores']['nmi']:.3f}" if res.get("scores") else ""))
            print(f"written: {out}")
        elif args.cmd == "data":
            from . import data, fetch
            if args.data_cmd == "fetch":
                fetch.fetch_data(args.datasets, source=args.source, to=args.to)
                print(f"data folder: {data.find_data_root(args.to)}")
            else:
                root = data.find_data_root(args.data_root)
                print(f"data folder: {root}" + ("" if root.is_dir() else " (does not exist yet)"))
                for name, loader in (("fashion-mnist", data.load_fashion_mnist), ("mnist", data.load_mnist)):
                    try:
                        d = loader(root)
                        print(f"  {name}: {len(d):,} images in {d.source}")
                    except FileNotFoundError:
                        print(f"  {name}: not found (hcmgan data fetch {name})")
        else:
            rep = runs.report(args.run_dir, with_baselines=args.baselines, root=args.data_root)
            print(runs.report_markdown(rep))
            print(f"written: {rep['run_dir']}/report.json, report.md, tree.png")
    except CollapseError as exc:
        print(f"error: training failed: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ninterrupted; run the same command again to resume from {getattr(args, 'run_dir', '')}",
              file=sys.stderr)
        return 130
    except (ValueError, TypeError, FileNotFoundError, RunDirInUse) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:   # a run dir that cannot be created or written, a full disk, ...
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"error: cannot read or write a file{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # anything else is a bug: still one line (and the traceback with -v)
        if args.verbose:
            raise
        print(f"error: unexpected {type(exc).__name__}: {_one_line(exc)} (run with -v for the traceback)",
              file=sys.stderr)
        return 2
    return 0


def _writable(name: str):
    """The output file ``name``, checked before any work: its folder can be made and written, it is no folder."""
    import os
    from pathlib import Path
    out = Path(name)
    if not name.strip() or out.is_dir():
        raise ValueError(f"--out must name a file to write, got {name!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    probe = out.with_name(f".{out.name}.probe{os.getpid()}")
    probe.write_text("")   # raises OSError (naming the file) where it cannot be written
    probe.unlink()
    return out


def _write_or_keep(out, text: str):
    """Write ``text`` to ``out``; if that fails after all, keep it in a file beside (or in the temporary
    folder) and say where: a finished result is never lost to a write error."""
    import tempfile
    from pathlib import Path
    try:
        out.write_text(text)
        return out
    except OSError as exc:
        for folder in (out.parent, Path.cwd(), Path(tempfile.gettempdir())):
            spare = folder / f"{out.stem}.saved-{os.getpid()}{out.suffix or '.json'}"
            try:
                spare.write_text(text)
            except OSError:
                continue
            print(f"warning: cannot write {out} ({exc.strerror or exc}); the result is kept in {spare}",
                  file=sys.stderr)
            return spare
        raise


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
