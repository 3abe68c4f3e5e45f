// What the publisher reads in the broker's replies (broker/amqp_util.hpp).
#include "broker/amqp_util.hpp"

#include <doctest/doctest.h>

TEST_CASE("max_message_size: the limit named by RabbitMQ's refusal of a large publish") {
  using sb::amqp::max_message_size;
  // RabbitMQ 3.10's text (a pika client against this project's test broker), and 3.8's at the
  // hard limit.
  CHECK(max_message_size("PRECONDITION_FAILED - message size 1048586 is larger than configured "
                         "max size 1048576") == 1048576);
  CHECK(max_message_size("PRECONDITION_FAILED - message size 600000000 is larger than max size "
                         "536870912") == 536870912);
  // Other 406s close the channel too, but are no size refusal.
  CHECK(max_message_size("PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue "
                         "'q' in vhost '/': received none but current is the value '10'") == 0);
  CHECK(max_message_size("PRECONDITION_FAILED - unknown delivery tag 7") == 0);
  CHECK(max_message_size("") == 0);
  CHECK(max_message_size("message size 10 is larger than configured max size ") == 0);
  CHECK(max_message_size("message size 10 is larger than configured max size x1") == 0);
}
