"""llmbook: the tested library behind the book *Replicating ChatGPT*.

Chapters call this package; it never knows about chapters. Modules:

- :mod:`llmbook.paths`   where the project's data lives
- :mod:`llmbook.inputs`  records which files a notebook read (for the data-aware build cache)
- :mod:`llmbook.catalog` the validated data tables (``data/*.csv``)
- :mod:`llmbook.style`   the house figure style (CJK-capable fonts)
- :mod:`llmbook.tables`  interactive, offline, escaped tables for the HTML book
"""

from llmbook import inputs as _inputs

__version__ = "0.1.0"

# A notebook that imports the library depends on the library's source: record it so that the
# book's build re-executes the notebook when the library changes (see llmbook.inputs).
_inputs.note_library()
