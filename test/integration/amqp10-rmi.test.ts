// The whole RMI suite over AMQP 1.0 (rhea) on RabbitMQ 3.10: goferd's plugin queue, the Agent's
// per-process reply queue, replies through amq.direct, TTL, NotFound, Admin, hostile input.
import { rmiSuite } from '../support/rmi-suite.js'
import { AMQP_URL } from '../support/paths.js'

rmiSuite('RabbitMQ (AMQP 1.0, rhea)', `amqp-1-0+${AMQP_URL}`)
