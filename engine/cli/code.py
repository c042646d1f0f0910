"""``fitscope code …``: print the TensorFlow.js or Keras 3 code of a run.

::

    fitscope code --lang tfjs --data boston-housing > boston-housing.js
    fitscope code --lang keras --data boston-housing --model mlp --optimizer adam --exact > run.py

Takes the training options of ``fitscope fit`` and prints the program those settings stand for
(:mod:`engine.codegen`): by default what a person would write (random initialization, ``fit()``'s own
shuffling); with ``--exact``, a program that reproduces this run's numbers to float32 precision and prints
one line per epoch, ``epoch N loss L``.

Options the code cannot express are refused rather than ignored: ``--init`` without ``--exact`` (ordinary code
starts from random weights), and ``--seed`` for ordinary TensorFlow.js code (TensorFlow.js cannot seed
``fit()``'s shuffling). Exact code that would write out too many numbers (the row order of many epochs of a
large data set) is refused too.

Exit status: 0 done; 2 bad input (one ``error:`` line on stderr).
"""

from __future__ import annotations

import argparse
from typing import TextIO

from .common import EXIT_OK, UsageError, add_training_options, experiment_from_args

NAME = "code"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """``fitscope code``'s options: ``fit``'s training options, the language and exactness."""
    from ..codegen import LANGUAGES

    parser = subparsers.add_parser(
        NAME,
        help="print the TensorFlow.js or Keras code of a run",
        description="Print the TensorFlow.js (Node.js) or Keras 3 (Python) code of the run the options describe. "
        "Options left out take the data set's defaults (the book's settings for the built-in data).",
    )
    parser.add_argument("--lang", required=True, choices=LANGUAGES,
                        help="tfjs: TensorFlow.js for Node.js; keras: Keras 3 in Python")
    parser.add_argument("--exact", action="store_true",
                        help="code that reproduces this run's numbers (its start weights and row orders written "
                             "out) and prints 'epoch N loss L' after every epoch")
    add_training_options(parser)
    return parser


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the code the options describe; return the exit status."""
    from ..codegen import code

    if args.init is not None and not args.exact:
        raise UsageError("--init sets the start of exact code (add --exact): ordinary code starts from random "
                         "weights")
    if args.seed is not None and args.lang == "tfjs" and not args.exact:
        raise UsageError("ordinary TensorFlow.js code has no seed (tfjs cannot seed fit()'s shuffling): add "
                         "--exact for the run's own start and row orders")
    exp = experiment_from_args(args)
    try:
        text = code(exp.dataset, exp.settings, args.lang, exact=args.exact, start=exp.trainer.params)
    except ValueError as e:
        raise UsageError(" ".join(str(e).split())) from None
    if exp.notice:
        print(f"note: {exp.notice}", file=err)
    out.write(text)
    return EXIT_OK
