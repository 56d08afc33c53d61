// A MessageHead holding the given fields, in order, as the parsers would have filled it: for unit
// tests of what reads a head (filters' header model, the trailer rule).
#ifndef PROXYD_TESTS_HEAD_OF_FIELDS_HPP
#define PROXYD_TESTS_HEAD_OF_FIELDS_HPP

#include "http/message_head.hpp"

#include <initializer_list>
#include <string_view>
#include <utility>

inline proxyd::MessageHead head_of_fields(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    proxyd::MessageHead head;
    for (auto [name, value] : fields) {
        head.append_header_name(name);
        head.end_header_name();
        head.append_header_value(value);
    }
    return head;
}

#endif
