#!/bin/sh
# Print the path of a Python >= 3.12 found on this machine, or say what to install and fail.
# Each candidate is run, not just looked up: a pyenv shim can exist and still fail.
ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }
for c in python3.13 python3.12 python3; do
    if command -v "$c" >/dev/null 2>&1 && ok "$c"; then
        "$c" -c 'import sys; print(sys.executable)'; exit 0
    fi
done
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for c in $(ls -d "$root"/versions/3.1[2-9]*/bin/python "$root"/versions/3.[2-9][0-9]*/bin/python 2>/dev/null | sort -rV); do
    if ok "$c"; then echo "$c"; exit 0; fi
done
echo "fitscope needs Python 3.12 or newer: install python3.12 (e.g. 'apt-get install python3.12 python3.12-venv' or 'pyenv install 3.12')." >&2
exit 1
