// The header in C++: it must compile warning-free (g++ -Wall -Wextra -Werror -pedantic) and
// link; a small RAII use shows the intended pattern. Exits non-zero on any failure.
#include "chat_engine.h"

#include <cstdio>
#include <memory>
#include <string>

namespace {

struct EngineFree {
    void operator()(chat_engine *e) const { chat_engine_free(e); }
};
struct ActorFree {
    void operator()(chat_actor *a) const { chat_actor_free(a); }
};
struct StringFree {
    void operator()(char *s) const { chat_string_free(s); }
};

int passed = 0, failed = 0;

void check(bool ok, const char *what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        std::fprintf(stderr, "FAIL %s\n", what);
    }
}

}  // namespace

int main() {
    chat_engine *raw_engine = nullptr;
    check(chat_engine_open_in_memory(&raw_engine) == CHAT_OK, "open");
    std::unique_ptr<chat_engine, EngineFree> engine(raw_engine);
    chat_actor *raw_host = nullptr;
    check(chat_actor_admin(&raw_host) == CHAT_OK, "admin");
    std::unique_ptr<chat_actor, ActorFree> host(raw_host);

    uint16_t status = 0;
    char *raw_json = nullptr;
    chat_result r = chat_engine_call(engine.get(), host.get(), "maintenance", "{}", &status,
                                     &raw_json);
    std::unique_ptr<char, StringFree> json(raw_json);
    check(r == CHAT_OK && status == 200, "maintenance");

    r = chat_engine_call(engine.get(), host.get(), "get_organization",
                         "{\"organization_id\": \"x\"}", &status, &raw_json);
    json.reset(raw_json);
    check(r == CHAT_NOT_FOUND && status == 404, "not found");
    check(std::string(json.get()).find("\"not_found\"") != std::string::npos, "error body");

    char buf[64];
    size_t n = 0;
    check(chat_result_message(CHAT_NULL_PARAMETER, buf, sizeof buf, &n) == CHAT_OK, "message");
    check(std::string(buf) == "null_parameter: a pointer parameter was NULL", buf);
    check(static_cast<uint32_t>(CHAT_PANIC) == 1002u, "stable numbers");

    std::printf("c++: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
