#!/usr/bin/env python3
"""Regenerate data/common-passwords.txt from the zxcvbn crate's password list.

The zxcvbn crate (https://github.com/shssoichiro/zxcvbn-rs, MIT licence) ships
its ranked password frequency list as a comma-separated Rust string constant,
`PASSWORDS`, in src/frequency_lists.rs; the entry's position is its rank
(zxcvbn builds the ranked dictionary with `split(',').enumerate()`).

This script:
1. fetches exactly zxcvbn ZXCVBN_VERSION with `cargo fetch` in a throw-away
   crate and finds its sources with `cargo metadata`;
2. reads the `PASSWORDS` constant and undoes its Rust string escapes;
3. keeps the first COUNT entries in rank order, checks that each one is
   non-empty, unique, lowercase and already in NFKC form;
4. writes them one per line (UTF-8, LF) to common-passwords.txt next to
   this script, and prints the file's SHA-256.

Usage: python3 data/gen-common-passwords.py   (needs cargo and python3 >= 3.8)
"""

import hashlib
import json
import re
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

ZXCVBN_VERSION = "3.1.1"
COUNT = 10_000
OUT = Path(__file__).resolve().parent / "common-passwords.txt"
ESCAPES = {"'": "'", '"': '"', "\\": "\\"}


def zxcvbn_sources() -> Path:
    """Fetch the pinned zxcvbn crate and return its source directory."""
    with tempfile.TemporaryDirectory() as tmp:
        crate = Path(tmp)
        (crate / "src").mkdir()
        (crate / "src" / "lib.rs").write_text("")
        (crate / "Cargo.toml").write_text(
            "[package]\n"
            'name = "fetch-zxcvbn"\n'
            'version = "0.0.0"\n'
            'edition = "2021"\n\n'
            "[dependencies]\n"
            f'zxcvbn = "={ZXCVBN_VERSION}"\n\n'
            "[workspace]\n"
        )
        manifest = str(crate / "Cargo.toml")
        subprocess.run(["cargo", "fetch", "--manifest-path", manifest], check=True)
        metadata = subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--manifest-path", manifest],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    package = next(p for p in json.loads(metadata)["packages"] if p["name"] == "zxcvbn")
    return Path(package["manifest_path"]).parent


def unescape(raw: str) -> str:
    def one(match: re.Match) -> str:
        if match.group(1) not in ESCAPES:
            sys.exit(f"unexpected escape \\{match.group(1)} in PASSWORDS")
        return ESCAPES[match.group(1)]

    return re.sub(r"\\(.)", one, raw)


def ranked_passwords(sources: Path) -> list:
    text = (sources / "src" / "frequency_lists.rs").read_text(encoding="utf-8")
    found = re.search(r'^const PASSWORDS: &str = "((?:[^"\\]|\\.)*)";$', text, re.M)
    if not found:
        sys.exit("no `const PASSWORDS` in zxcvbn's src/frequency_lists.rs")
    return unescape(found.group(1)).split(",")


def check(words: list) -> None:
    if len(words) != COUNT:
        sys.exit(f"expected {COUNT} passwords, found {len(words)}")
    if len(set(words)) != COUNT:
        sys.exit("duplicate passwords in the list")
    for word in words:
        if not word or word != unicodedata.normalize("NFKC", word).lower():
            sys.exit(f"entry {word!r} is empty, not lowercase or not NFKC")
        if any(c.isspace() for c in word):
            sys.exit(f"entry {word!r} contains white space")


def main() -> None:
    sources = zxcvbn_sources()
    words = ranked_passwords(sources)[:COUNT]
    check(words)
    data = ("\n".join(words) + "\n").encode("utf-8")
    OUT.write_bytes(data)
    print(f"wrote {len(words)} passwords from {sources} to {OUT}")
    print(f"sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
