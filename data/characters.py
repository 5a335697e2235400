"""The characters that steer a terminal or hide in a line, named once.

The console shows each as a visible stand-in (`tui.text.visible`); a JSON export writes
the non-C0 ones as ``\\uXXXX`` escapes (JSON escapes C0 itself), so a file that is
``cat`` to a terminal, or read in an editor, cannot be reordered or driven by them.
"""

from __future__ import annotations

# C0 controls (ESC among them) and DEL.
C0 = tuple(range(0x20))
DEL = 0x7F
# C1 controls: 8-bit CSI (U+009B), OSC (U+009D), NEL (U+0085) ... act in many terminals.
C1 = tuple(range(0x80, 0xA0))
# Bidi embeddings, overrides and isolates: they reorder what follows them on the line.
BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
# Invisible characters that change how a line reads or compares without showing: the bidi
# marks (LRM, RLM, ALM), the zero-width space, word joiner and invisible operators, and the
# byte-order mark. "admin" and "adm<U+200B>in" must not look the same on screen.
INVISIBLE = (0x061C, 0x180E, 0x200B, 0x200E, 0x200F, *range(0x2060, 0x2065), 0xFEFF)
# Line and paragraph separators: a line break to some readers, nothing to others.
SEPARATORS = (0x2028, 0x2029)
# The zero-width non-joiner and joiner: meant to join letters and emoji, so kept there.
JOINERS = "\u200c\u200d"

# What a JSON export writes for each non-C0 one: the same value to any JSON reader.
JSON_ESCAPES = {code: f"\\u{code:04x}" for code in (DEL, *C1, *BIDI, *INVISIBLE, *SEPARATORS)}

__all__ = ["BIDI", "C0", "C1", "DEL", "INVISIBLE", "JOINERS", "JSON_ESCAPES", "SEPARATORS"]
