"""``python -m llmbook`` runs the command line."""

import sys

from llmbook.cli import main

sys.exit(main())
