// The RMI suite against the real RabbitMQ (AMQP 0-9-1), started by scripts/brokers.sh.
import { rmiSuite } from '../support/rmi-suite.js'
import { AMQP_URL } from '../support/paths.js'

rmiSuite('RabbitMQ (AMQP 0-9-1)', AMQP_URL)
