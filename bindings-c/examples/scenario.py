#!/usr/bin/env python3
"""The chat engine from Python through the C ABI, with only the standard library (ctypes).

A visitor authenticates, enters the room, starts a chat and writes; the operator finds it
pending, joins and replies; the operator ends the chat; a message to the ended chat is refused
with CHAT_CHAT_ENDED (409).

Usage: python3 scenario.py [path/to/libchat_engine.so]
(default: $CHAT_ENGINE_LIB, else the shared library of the workspace's debug build)
"""

import ctypes
import json
import os
import sys

CHAT_OK = 0
CHAT_CHAT_ENDED = 10

ORG = "7f9e9580-095b-42c7-838c-c04e667b26f7"
ANN = "bed3221e-879e-43df-8d0e-d63f8c1f012d"
ROOM = "9926bdfa-56e0-11e5-b98c-6c4008c08dfe"
SEED = {
    "organizations": [{"id": ORG, "name": "Acme"}],
    "users": [{"id": ANN, "organization_id": ORG, "first_name": "Ann", "last_name": "Lee",
               "is_present": True, "api_token": "ann-secret-token-123"}],
    "rooms": [{"id": ROOM, "organization_id": ORG, "name": "Support",
               "router": [{"user_ids": [ANN]}]}],
}


class ChatError(Exception):
    def __init__(self, result, status, body):
        super().__init__(f"{body.get('code')} ({result}, HTTP {status}): {body.get('detail')}")
        self.result, self.status, self.body = result, status, body


class Engine:
    """One engine handle; `call` runs any operation of the core's table."""

    def __init__(self, lib_path):
        lib = ctypes.CDLL(lib_path)
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
        lib.chat_string_free.argtypes = [ctypes.c_void_p]
        lib.chat_string_free.restype = None
        self.lib = lib
        self.engine = handle()
        if lib.chat_engine_open_in_memory(ctypes.byref(self.engine)) != CHAT_OK:
            raise RuntimeError("cannot open the engine")
        self.actors = []

    def admin(self):
        actor = ctypes.c_void_p()
        self.lib.chat_actor_admin(ctypes.byref(actor))
        self.actors.append(actor)
        return actor

    def actor(self, token):
        actor = ctypes.c_void_p()
        r = self.lib.chat_actor_from_token(self.engine, token.encode(), ctypes.byref(actor))
        if r != CHAT_OK:
            raise ChatError(r, 401, {"code": "not_authenticated", "detail": "bad token"})
        self.actors.append(actor)
        return actor

    def call(self, actor, op, **args):
        status = ctypes.c_uint16()
        out = ctypes.c_void_p()
        r = self.lib.chat_engine_call(self.engine, actor, op.encode(),
                                      json.dumps(args).encode(), ctypes.byref(status),
                                      ctypes.byref(out))
        try:
            body = json.loads(ctypes.string_at(out.value).decode()) if out.value else None
        finally:
            self.lib.chat_string_free(out)
        if r != CHAT_OK:
            raise ChatError(r, status.value, body or {})
        return status.value, body

    def close(self):
        for actor in self.actors:
            self.lib.chat_actor_free(actor)
        self.lib.chat_engine_free(self.engine)


def main():
    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(repo, "target"))
    default = os.path.join(target, "debug", "libchat_engine.so")
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CHAT_ENGINE_LIB", default)
    engine = Engine(path)
    checks = []

    def check(ok, what):
        checks.append(ok)
        print(("ok   " if ok else "FAIL ") + what)

    host = engine.admin()
    status, report = engine.call(host, "load_seed", body=SEED)
    check(status == 200 and report["users"] == 1, "the host loads the seed")

    _, auth = engine.call(host, "visitor_auth", organization_id=ORG, body={})
    visitor_id = auth["visitor_id"]
    visitor = engine.actor(auth["access_token"])
    status, _ = engine.call(visitor, "visitor_enter_room", organization_id=ORG, room_id=ROOM,
                            body={"id": visitor_id, "presence_expires_in": 600})
    check(status == 201, "the visitor enters the room")
    status, chat = engine.call(visitor, "visitor_start_chat", organization_id=ORG,
                               room_id=ROOM, visitor_id=visitor_id)
    check(status == 201, "the visitor starts a chat")
    status, msg = engine.call(visitor, "visitor_send_message", visitor_id=visitor_id,
                              chat_id=chat["id"], body={"type": "msg", "message": "Hi there"})
    check(status == 201 and msg["message"] == "Hi there", "the visitor writes")

    ann = engine.actor("ann-secret-token-123")
    _, pending = engine.call(ann, "list_chats", scope="user_pending", user_id=ANN)
    check([c["id"] for c in pending["results"]] == [chat["id"]], "the chat is pending for Ann")
    status, _ = engine.call(ann, "join_pending_chat", user_id=ANN, chat_id=chat["id"],
                            body={"is_participating": True, "composing_status": "idle"})
    check(status == 201, "Ann joins from pending")
    engine.call(ann, "send_user_message", user_id=ANN, chat_id=chat["id"],
                body={"message": "Hello! How can I help?"})
    _, messages = engine.call(visitor, "visitor_list_messages", visitor_id=visitor_id,
                              chat_id=chat["id"], query={"type__in": "msg"})
    check([m["message"] for m in messages["results"]] == ["Hello! How can I help?", "Hi there"],
          "the visitor sees both messages, newest first")

    _, ended = engine.call(ann, "update_chat", scope="user_chats", user_id=ANN,
                           chat_id=chat["id"], body={"is_ended": True})
    check(ended["is_ended"], "Ann ends the chat")
    try:
        engine.call(visitor, "visitor_send_message", visitor_id=visitor_id, chat_id=chat["id"],
                    body={"type": "msg", "message": "Still there?"})
        check(False, "a message to the ended chat is refused")
    except ChatError as e:
        check(e.result == CHAT_CHAT_ENDED and e.status == 409 and e.body["code"] == "chat_ended",
              f"a message to the ended chat is refused: {e}")

    engine.close()
    failed = checks.count(False)
    print(f"python ctypes: {len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
