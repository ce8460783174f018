"""llmbook: the tested library behind the book *Replicating ChatGPT*.

Chapters call this package; it never knows about chapters. Modules:

- :mod:`llmbook.paths`   where the project's data lives
- :mod:`llmbook.inputs`  records which files a notebook read (for the data-aware build cache)
- :mod:`llmbook.catalog` the validated data tables (``data/*.csv``)
- :mod:`llmbook.style`   the house figure style (CJK-capable fonts)
- :mod:`llmbook.tables`  interactive, offline, escaped tables for the HTML book
"""

__version__ = "0.1.0"

# Which modules a notebook depends on is recorded by the build after the notebook ran
# (llmbook.inputs.note_modules, called by llmbook.execution), not here at import time.
