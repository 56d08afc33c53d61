/* routing_redirect.c built against the frozen ABI 1.6 header (see there): a plugin from before
 * PROXYD_ROUTE_REDIRECT that returns its value anyway. */
#define FIXTURE_NAME "routing_redirect_1_6"
#include "routing_redirect.c"
