#include "net/refuse_handshakes.hpp"

#include <cerrno>
#include <cstring>
#include <linux/filter.h>
#include <sys/socket.h>

namespace proxyd {

bool refuse_new_handshakes(int fd, std::string &error) {
    // A TCP socket's filter sees the segment from its TCP header on; byte 13 holds the flags.
    // Only a bare SYN is dropped: a filter dropping everything (ret #0) would also drop the ACK
    // that completes a handshake begun before it was attached, leaving a client that believes
    // itself connected to be reset when the socket closes.
    static constexpr uint32_t kFlagsOffset = 13;
    static constexpr uint32_t kSynAck = 0x12;
    static constexpr uint32_t kSyn = 0x02;
    // What a filter returns is how many bytes to keep; connections accepted later inherit the
    // filter, so anything short of all would trim their large segments.
    static constexpr uint32_t kWholeSegment = 0xffffffff;
    // linux/filter.h's BPF_STMT and BPF_JUMP expand to C casts, so the instructions are spelled out.
    auto op = [](uint16_t code, uint32_t k, uint8_t jump_true = 0, uint8_t jump_false = 0) {
        return sock_filter{code, jump_true, jump_false, k};
    };
    sock_filter program[] = {
        op(BPF_LD | BPF_B | BPF_ABS, kFlagsOffset), op(BPF_ALU | BPF_AND | BPF_K, kSynAck),
        op(BPF_JMP | BPF_JEQ | BPF_K, kSyn, 0, 1),  op(BPF_RET | BPF_K, 0),
        op(BPF_RET | BPF_K, kWholeSegment),
    };
    sock_fprog filter{static_cast<unsigned short>(sizeof program / sizeof program[0]), program};
    if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &filter, sizeof filter) == 0) return true;
    error = std::string("attach a filter refusing new handshakes: ") + std::strerror(errno);
    return false;
}

} // namespace proxyd
