"""``fitscope fit …``: train from the command line, Keras-style, and optionally save the history and trace.

::

    fitscope fit --data boston-housing --epochs 200 --history history.csv --trace trace.csv

Options left out take the data set's own settings (:attr:`Dataset.defaults`: the book's, for the built-in
data). One line per epoch, then a summary: the final training and validation losses, the test loss and the
baseline loss (always predicting the training target's mean).

Files (the formats are :mod:`engine.export`'s, which the app's File > Export writes too; written by its
writer: checked before anything is read, into temporary files beside them, all renamed into place together
at the end, never onto the data file or onto each other):

- ``--history FILE``: ``epoch,loss,val_loss``, one row per epoch (``val_loss`` empty without a split);
- ``--trace FILE``: ``step,epoch,batch,loss,<parameter names>``; row 0 holds the initial parameters, row
  ``s`` the parameters after update ``s``, its epoch (1-based), batch (0-based) and the batch's loss before
  the update. Numbers are written in full (``repr``), so they read back bit for bit.
- ``--report FILE``: one HTML file with the settings, the data's provenance, the final numbers and the
  history (:mod:`engine.report`; the app's File > Export > Report… adds the tab's plots).
- ``--animate FILE``: an animated GIF (an MP4 for a ``.mp4`` name, where the optional ``video`` extra is
  installed) of the path on the loss surface, from the start to the last step, in
  ``--frames`` frames (default 100, or every step of a shorter run) at ``--fps`` (default 10), ``--size``
  pixels (default 800x600), drawn as the app's loss-surface tab draws it (File > Export > Animation…). One-feature
  linear models only. Qt is imported only for this option, and draws off screen when no display is set.

Exit status: 0 done; 2 bad input or a file that cannot be written (one ``error:`` line on stderr); 3
training diverged (the files hold what was done until then; one line on stderr says where, and one on stdout
which step was the last with a training loss below the start's and a smaller ``--lr`` to train with); 130
interrupted with Ctrl-C, 143 with SIGTERM: one line on stderr says whether the files were written (with what
was done until then) or left as they were.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any, TextIO

from ..numbers import prose
from .common import (
    EXIT_CLOSED,
    EXIT_DIVERGED,
    EXIT_OK,
    UsageError,
    add_training_options,
    check_args,
    data_files,
    file_name,
    fmt,
    one_line,
    run_from_args,
    silence,
    whole,
)

if TYPE_CHECKING:
    from types import ModuleType

    from ..experiment import Experiment
    from ..export import Output, Outputs
    from ..run import FitRun
    from ..trainer import DivergedReport, EpochReport

NAME = "fit"
#: The --animate GIF's frames, frames per second and size (width, height) when the options are left out.
ANIMATION_DEFAULTS: dict[str, Any] = {"frames": 100, "fps": 10, "size": (800, 600)}


def frame_size(text: str) -> tuple[int, int]:
    """An argparse type: ``WIDTHxHEIGHT`` in pixels, e.g. ``800x600`` (the ranges are checked with Qt's
    renderer, :func:`_animation_options`)."""
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"takes WIDTHxHEIGHT in pixels, e.g. 800x600, not {text[:40]!r}")
    return int(parts[0]), int(parts[1])


frame_size.__name__ = "size"


def _animation_options(args: argparse.Namespace) -> ModuleType | None:
    """With --animate: the renderer (:mod:`gui.animation`), Qt started and the options checked; without it,
    None (and the options that go with it refused). :class:`UsageError` if one is bad or Qt cannot start."""
    if args.animate is None:
        for option, value in (("--frames", args.frames), ("--fps", args.fps), ("--size", args.size)):
            if value is not None:
                raise UsageError(f"{option} applies to --animate only")
        return None
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # drawn off screen: no window is ever shown
    try:
        from ...gui import animation

        animation.start_qt()
    except Exception as e:  # noqa: BLE001 (no Qt, no display, no widgets: one line)
        raise UsageError(f"--animate draws with Qt, which cannot start here: {one_line(str(e))}") from None
    width, height = args.size or ANIMATION_DEFAULTS["size"]
    try:
        animation.check_size(args.frames or ANIMATION_DEFAULTS["frames"], args.fps or ANIMATION_DEFAULTS["fps"],
                             width, height)
    except ValueError as e:
        raise UsageError(f"--animate: {e}") from None
    if args.animate.lower().endswith(".mp4") and not animation.mp4_available():
        raise UsageError("--animate: MP4 needs the optional video encoder (pip install 'fitscope[video]'); a .gif "
                         "file works as is")
    return animation


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``fitscope fit``'s options."""
    fit = subparsers.add_parser(
        NAME,
        help="train a model and print its progress",
        description="Train a model as TensorFlow.js's fit() does. Options left out take the data set's "
        "defaults (the book's settings for the built-in data).",
    )
    add_training_options(fit)
    fit.add_argument("--history", metavar="FILE", type=file_name("--history"),
                     help="write epoch,loss,val_loss as CSV")
    fit.add_argument("--trace", metavar="FILE", type=file_name("--trace"),
                     help="write the parameters after every step as CSV")
    fit.add_argument("--report", metavar="FILE", type=file_name("--report"),
                     help="write a report of the run as one HTML file (settings, data, numbers, history)")
    fit.add_argument("--animate", metavar="FILE", type=file_name("--animate"),
                     help="write an animated GIF (or an MP4, for a .mp4 name, with the video extra) of the path on "
                          "the loss surface (one-feature data only)")
    fit.add_argument("--frames", type=whole(1, 100_000), metavar="N",
                     help=f"frames of the --animate GIF (default {ANIMATION_DEFAULTS['frames']}, or every step of "
                          "a shorter run)")
    fit.add_argument("--fps", type=whole(1, 50, "a rate"), metavar="N",
                     help=f"frames per second of the --animate GIF (default {ANIMATION_DEFAULTS['fps']})")
    fit.add_argument("--size", type=frame_size, metavar="WxH",
                     help="width and height of the --animate GIF in pixels (default {}x{})".format(
                         *ANIMATION_DEFAULTS["size"]))
    fit.add_argument("--quiet", action="store_true", help="print the summary only, not every epoch")
    return fit


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Train as the options say; return the exit status.

    Every check that needs no data comes first, then the output files are checked and their temporary files
    made, then the data is read and the model built, then training; the files are put in place together at
    the end (also after a divergence or an interruption, with what was done until then).
    """
    from .. import interrupts
    from ..export import ExportError, Outputs

    check_args(args)
    renderer = _animation_options(args)  # Qt started (or one line) before anything is read
    progress = _Progress(files_asked=any(f is not None for f in (args.history, args.trace, args.report,
                                                                   args.animate)))
    outputs = Outputs(inputs=data_files(args))
    try:
        history = None if args.history is None else outputs.open(args.history, role="the --history file")
        trace = None if args.trace is None else outputs.open(args.trace, role="the --trace file")
        report = None if args.report is None else outputs.open(args.report, role="the --report file")
        movie = None if args.animate is None else outputs.open(args.animate, role="the --animate file")
        run = run_from_args(args)  # the run the app's tabs hold: the same settings, trainer and numbers
        if renderer is not None:
            try:
                renderer.check_surface(run)
            except ValueError as e:
                raise UsageError(f"--animate: {e}") from None
        interrupts.check()  # a signal whose exception a library swallowed while the data was read
        progress.exp = run.experiment
        progress.report = None if report is None else (report, run)
        progress.animation = None if movie is None else (movie, run, renderer, args, out)
        return train(run.experiment, args, out, err, outputs, history, trace, progress, run=run, report_file=report)
    except KeyboardInterrupt as stop:
        interrupts.acknowledge()  # stopping: further signals change nothing
        print(progress.interrupted(stop, outputs), file=err)
        return getattr(stop, "status", 130)
    except ExportError as e:  # a file failed while it was written (a full disk): none is put in place
        if len(outputs.files) > 1 and outputs.state == "open":
            outputs.discard()
            raise ExportError(f"{e} (nothing was written)") from None
        raise
    except BrokenPipeError:  # the reader of the progress went away: stop as if killed by SIGPIPE
        silence(out)
        written = f"{outputs.names} {_were(outputs)} written" if outputs.state == "committed" else (
            "nothing was written" if outputs.files else "")
        print(f"stopped: the output was closed{f' ({written})' if written else ''}", file=err)
        return EXIT_CLOSED
    finally:
        outputs.discard()  # whatever was not put in place: its temporary file goes


class _Progress:
    """Where a run stands, for the line an interruption prints."""

    def __init__(self, files_asked: bool = False) -> None:
        self.exp: Experiment | None = None
        self.training = False
        self.files_asked = files_asked  # --history or --trace: a stop before they are open has written nothing
        self.report: tuple[Output, FitRun] | None = None  # the --report file and the run it reports
        # the --animate file, the run it shows, the renderer module, the options and where a note goes
        self.animation: tuple[Output, FitRun, ModuleType, argparse.Namespace, TextIO] | None = None

    def write_report(self) -> None:
        """Write the run's report into the --report file and its animation into the --animate file (those asked
        for), before the files are put in place."""
        if self.report is not None:
            from ..report import run_report

            output, run = self.report
            output.write(run_report(run))
        if self.animation is not None:
            output, run, renderer, args, out = self.animation
            frames = args.frames or ANIMATION_DEFAULTS["frames"]
            width, height = args.size or ANIMATION_DEFAULTS["size"]
            try:
                movie, drawn = renderer.fit_run_animation(run, args.animate, frames,
                                                         args.fps or ANIMATION_DEFAULTS["fps"], width, height)
            except Exception as e:  # noqa: BLE001 (a picture that cannot be drawn: one line, nothing written)
                raise UsageError(f"--animate: cannot draw the frames: {one_line(str(e))}") from None
            output.write_bytes(movie)
            if drawn < frames and args.frames is not None:
                print(f"note: the run kept {drawn:,} steps, so the animation holds {drawn:,} frames", file=out)

    def interrupted(self, stop: KeyboardInterrupt, outputs: Outputs) -> str:
        from ..export import ExportError

        verb = getattr(stop, "verb", "interrupted")
        if not outputs.files and self.files_asked:
            return f"{verb}: nothing was written"
        if not outputs.files:
            return verb if self.exp is None or not self.training else (
                f"{verb} in epoch {self.exp.trainer.epoch + 1}, after {self.exp.trainer.step} steps")
        if outputs.state == "committed":  # the signal came while the files were put in place
            return f"{verb} after training: {outputs.names} {_were(outputs)} written completely"
        if not self.training or self.exp is None:
            return f"{verb}: nothing was written"
        trainer = self.exp.trainer
        where = f"{verb} in epoch {trainer.epoch + 1}, after {trainer.step} steps"
        try:
            self.write_report()
            outputs.commit()
        except (ExportError, UsageError) as e:
            return f"{where}; {e}"
        held = "holds" if len(outputs.files) == 1 else "hold"
        return f"{where} ({outputs.names} {held} what was done until then)"


def _were(outputs: Outputs) -> str:
    return "was" if len(outputs.files) == 1 else "were"


def train(exp: Experiment, args: argparse.Namespace, out: TextIO, err: TextIO, outputs: Outputs,
          history: Output | None, trace: Output | None, progress: _Progress | None = None,
          run: FitRun | None = None, report_file: Output | None = None) -> int:
    """Run the experiment, print its progress and summary, write the files; return the exit status.

    Signals are held off while training (a row is never half written) and taken between two reports.
    ``run``: the :class:`~engine.run.FitRun` of ``exp``, whose history records the reports (for the advice
    after a divergence and for ``report_file``, the ``--report`` file, written at the end).
    """
    from .. import interrupts
    from ..export import HISTORY_HEADER, history_row, trace_header, trace_row, trace_start_row
    from ..trainer import EpochReport, Phase, StepReport

    progress = _Progress() if progress is None else progress
    if exp.notice:
        print(f"note: {exp.notice}", file=out)
    note = exp.dataset.defaults_note
    if note and getattr(args, "lr", None) is None and exp.settings.learning_rate == exp.dataset.defaults.learning_rate:
        print(f"note: {note}", file=out)
    if history is not None:
        history.write_row(HISTORY_HEADER)
    if trace is not None:
        trace.write_row(trace_header(exp.param_names))
        trace.write_row(trace_start_row(exp.trainer.params))

    last: EpochReport | None = None
    diverged: DivergedReport | None = None
    progress.training = True
    with interrupts.deferred():
        interrupts.check()
        record = None if run is None else run.history.add
        for report in exp.trainer.run():
            if record is not None:
                record(report)
            if isinstance(report, StepReport):
                if trace is not None and report.phase == Phase.UPDATE:
                    trace.write_row(trace_row(report.step, report.epoch, report.batch, report.loss,
                                              report.params_after))
            elif isinstance(report, EpochReport):
                last = report
                if history is not None:
                    history.write_row(history_row(report.epoch, report.loss, report.val_loss))
                if not args.quiet:
                    print(_epoch_line(report, exp.settings.epochs), file=out, flush=True)
            else:
                diverged = report
            interrupts.check()
    progress.training = False
    if report_file is not None and run is not None:
        progress.report = (report_file, run)
    progress.write_report()
    outputs.commit()

    if diverged is not None:
        print(diverged.message, file=err)
        if run is not None and diverged.what != "data":
            print(advice(run), file=out)
        return EXIT_DIVERGED
    for line in summary(exp, last):
        print(line, file=out)
    return EXIT_OK


def advice(run: FitRun) -> str:
    """What to do after a divergence, in one line: the last step whose training loss was below the start's
    (:meth:`~engine.run.FitRun.recovery`, as the app offers to go back to) and a smaller rate to train with."""
    exp, h = run.experiment, run.history
    rate = f"train with a smaller --lr, e.g. {run.smaller_rate():g}"
    if exp.dataset.n_features > 1 and not exp.settings.normalize:
        rate += ", or normalize the features (--normalize), which lets every weight learn at one rate"
    start = exp.loss_at(h.params[0], "train")
    step = run.recovery()
    if step is None:
        looked = "" if run.recovery_complete else " among the latest the search had time for"
        return (f"no step the run can go back to{looked} had a training loss below the start's ({prose(start, 6)}): "
                f"{rate}")
    loss = exp.loss_at(h.params[h.row_of(step)], "train")
    return (f"step {step} was the last with a training loss below the start's ({prose(loss, 6)} < "
            f"{prose(start, 6)}): {rate}")


def _epoch_line(report: EpochReport, epochs: int) -> str:
    line = f"Epoch {report.epoch}/{epochs} - loss: {fmt(report.loss)}"
    if report.val_loss is not None:
        line += f" - val_loss: {fmt(report.val_loss)}"
    return line


def summary(exp: Experiment, last: EpochReport | None) -> list[str]:
    """The closing lines: final training and validation losses, test loss, baseline loss."""
    rows = [("final training loss", "n/a (no epoch was run)" if last is None else fmt(last.loss))]
    if last is not None and last.val_loss is not None:
        rows.append(("final validation loss", fmt(last.val_loss)))
    test = exp.test_loss()
    if test is not None:
        rows.append(("test loss", fmt(test)))
    split = "test" if exp.X_test is not None else "train"
    mean = fmt(float(exp.dataset.y_train.mean()))
    where = "on the test set" if split == "test" else "on the training rows"
    rows.append(("baseline loss", f"{fmt(exp.baseline_loss(split))}  (always predicting the mean "
                                  f"training target, {mean}, {where})"))
    width = max(len(label) for label, _ in rows) + 1
    return [f"{label + ':':<{width}} {value}" for label, value in rows]
