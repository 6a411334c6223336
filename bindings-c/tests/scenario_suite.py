#!/usr/bin/env python3
"""Runs the shared scenario files of tests/scenarios/ through the C ABI (Python ctypes).

The same files, checked the same way, as the Rust runner (tests/tests/scenario_suite.rs): the
seed is loaded by the host; each step acts with its token (`null`: the public `visitor_auth`,
or no credentials for anything else; `"@admin"`: the host; otherwise a token authenticated with
`chat_actor_from_token`), calls `chat_engine_call`, and must answer exactly the step's `status`
and, at each JSON pointer of `expect`, exactly the expected JSON value (`true` is not `1`, `1`
is not `1.0`, a missing value equals nothing). `save` takes values from the reply for later
steps; `"$name"` strings are replaced by saved values and constants. The first failing step
ends the file.

The C ABI runs on the system clock (the Rust runner on a test clock): no expectation of the
scenario files depends on the time.

Usage: python3 scenario_suite.py path/to/libchat_engine.so scenario.json [scenario.json ...]
Exits 0 when every step of every file passed.
"""

import ctypes
import json
import sys

CHAT_OK = 0
CHAT_NOT_AUTHENTICATED = 1
# The HTTP-equivalent status of CHAT_NOT_AUTHENTICATED (chat_actor_from_token has no status
# out-parameter).
NOT_AUTHENTICATED_STATUS = 401

MISSING = object()


class StepFailed(Exception):
    pass


class Library:
    """The few C functions the runner needs, with their exact signatures."""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        handle = ctypes.c_void_p
        lib.chat_engine_open_in_memory.argtypes = [ctypes.POINTER(handle)]
        lib.chat_engine_open_in_memory.restype = ctypes.c_uint32
        lib.chat_engine_free.argtypes = [handle]
        lib.chat_engine_free.restype = None
        lib.chat_actor_admin.argtypes = [ctypes.POINTER(handle)]
        lib.chat_actor_admin.restype = ctypes.c_uint32
        lib.chat_actor_from_token.argtypes = [handle, ctypes.c_char_p, ctypes.POINTER(handle)]
        lib.chat_actor_from_token.restype = ctypes.c_uint32
        lib.chat_actor_free.argtypes = [handle]
        lib.chat_actor_free.restype = None
        # Returned strings stay c_void_p so that they can be handed back to chat_string_free.
        lib.chat_engine_call.argtypes = [handle, handle, ctypes.c_char_p, ctypes.c_char_p,
                                         ctypes.POINTER(ctypes.c_uint16),
                                         ctypes.POINTER(ctypes.c_void_p)]
        lib.chat_engine_call.restype = ctypes.c_uint32
        lib.chat_engine_last_error_json.argtypes = [handle, ctypes.POINTER(ctypes.c_void_p)]
        lib.chat_engine_last_error_json.restype = ctypes.c_uint32
        lib.chat_string_free.argtypes = [ctypes.c_void_p]
        lib.chat_string_free.restype = None
        self.c = lib

    def take_string(self, ptr):
        """The JSON text of a returned string (freed here), or None for NULL."""
        if not ptr.value:
            return None
        try:
            return ctypes.string_at(ptr.value).decode()
        finally:
            self.c.chat_string_free(ptr)


class Engine:
    def __init__(self, lib):
        self.lib = lib
        self.handle = ctypes.c_void_p()
        r = lib.c.chat_engine_open_in_memory(ctypes.byref(self.handle))
        if r != CHAT_OK:
            raise RuntimeError(f"chat_engine_open_in_memory: {r}")
        self.admin = ctypes.c_void_p()
        if lib.c.chat_actor_admin(ctypes.byref(self.admin)) != CHAT_OK:
            raise RuntimeError("chat_actor_admin failed")

    def close(self):
        self.lib.c.chat_actor_free(self.admin)
        self.lib.c.chat_engine_free(self.handle)

    def call(self, actor, op, args):
        """(status, body) of one call, success or failure."""
        status = ctypes.c_uint16()
        out = ctypes.c_void_p()
        r = self.lib.c.chat_engine_call(self.handle, actor, op.encode(),
                                        json.dumps(args).encode(), ctypes.byref(status),
                                        ctypes.byref(out))
        text = self.lib.take_string(out)
        if text is None:
            raise StepFailed(f"{op}: no reply body (result {r}, status {status.value})")
        body = json.loads(text)
        if (r == CHAT_OK) != (200 <= status.value < 300):
            raise StepFailed(f"{op}: result {r} with status {status.value}: {text}")
        return status.value, body

    def call_with_token(self, token, op, args):
        """What chat_core::api::call_with_token does: `visitor_auth` is public (the host acts),
        anything else needs a token that authenticates."""
        if op == "visitor_auth":
            return self.call(self.admin, op, args)
        actor = ctypes.c_void_p()
        # No token is no credentials: authenticating the empty token answers as the core
        # answers a call without one (not_authenticated).
        r = self.lib.c.chat_actor_from_token(self.handle, (token or "").encode(),
                                             ctypes.byref(actor))
        if r != CHAT_OK:
            if r != CHAT_NOT_AUTHENTICATED or actor.value:
                raise StepFailed(f"chat_actor_from_token: result {r}, actor {actor.value}")
            err = ctypes.c_void_p()
            self.lib.c.chat_engine_last_error_json(self.handle, ctypes.byref(err))
            text = self.lib.take_string(err)
            if text is None:
                raise StepFailed("chat_actor_from_token failed without an error body")
            return NOT_AUTHENTICATED_STATUS, json.loads(text)
        try:
            return self.call(actor, op, args)
        finally:
            self.lib.c.chat_actor_free(actor)


def substitute(v, names):
    if isinstance(v, str) and v.startswith("$"):
        if v[1:] not in names:
            raise StepFailed(f"unknown variable {v}")
        return names[v[1:]]
    if isinstance(v, list):
        return [substitute(x, names) for x in v]
    if isinstance(v, dict):
        return {k: substitute(x, names) for k, x in v.items()}
    return v


def pointer(doc, ptr):
    """RFC 6901, as serde_json's Value::pointer reads it; MISSING when absent."""
    if ptr == "":
        return doc
    if not ptr.startswith("/"):
        return MISSING
    cur = doc
    for raw in ptr[1:].split("/"):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, dict):
            if key not in cur:
                return MISSING
            cur = cur[key]
        elif isinstance(cur, list):
            # An index: digits, without a sign or leading zeros.
            if not key.isdigit() or not key.isascii() or (len(key) > 1 and key[0] == "0"):
                return MISSING
            i = int(key)
            if i >= len(cur):
                return MISSING
            cur = cur[i]
        else:
            return MISSING
    return cur


def same_json(a, b):
    """serde_json's Value equality: types must match (Python's True == 1 and 1 == 1.0 must not
    pass), objects compare regardless of key order."""
    if a is MISSING or b is MISSING:
        return False
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return a == b


def run_file(lib, path):
    """Runs one scenario file; returns how many steps passed (all of them, or raises)."""
    with open(path, encoding="utf-8") as f:
        scenario = json.load(f)
    engine = Engine(lib)
    try:
        status, body = engine.call(engine.admin, "load_seed", {"body": scenario["seed"]})
        if status != 200:
            raise StepFailed(f"load_seed: {status} {body}")
        names = dict(scenario.get("constants") or {})
        steps = scenario["steps"]
        if not steps:
            raise StepFailed("no steps")
        for step in steps:
            name = step["name"]
            token = substitute(step["token"], names)
            args = substitute(step["args"], names)
            op = step["op"]
            if token == "@admin":
                status, body = engine.call(engine.admin, op, args)
            else:
                status, body = engine.call_with_token(token, op, args)
            if status != step["status"]:
                raise StepFailed(f"step '{name}': status {status}, expected {step['status']}: "
                                 f"{json.dumps(body)}")
            for ptr, want in (step.get("expect") or {}).items():
                want = substitute(want, names)
                got = pointer(body, ptr)
                if not same_json(got, want):
                    shown = "(missing)" if got is MISSING else json.dumps(got)
                    raise StepFailed(f"step '{name}': {ptr} is {shown}, expected "
                                     f"{json.dumps(want)} in {json.dumps(body)}")
            for var, ptr in (step.get("save") or {}).items():
                v = pointer(body, ptr)
                if v is MISSING:
                    raise StepFailed(f"step '{name}': no {ptr} in {json.dumps(body)}")
                names[var] = v
        return len(steps)
    finally:
        engine.close()


def main(argv):
    if len(argv) < 3:
        print("usage: scenario_suite.py LIBCHAT_ENGINE_SO SCENARIO.json...", file=sys.stderr)
        return 2
    lib = Library(argv[1])
    failed = 0
    for path in argv[2:]:
        try:
            n = run_file(lib, path)
            print(f"ok   {path}: {n} steps")
        except StepFailed as e:
            failed += 1
            print(f"FAIL {path}: {e}")
    print(f"C ABI scenario suite: {len(argv) - 2 - failed} files passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
