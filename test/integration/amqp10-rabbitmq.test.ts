// The AMQP 1.0 adapter (rhea) against RabbitMQ 3.10's rabbitmq_amqp1_0 plugin (same port as
// 0-9-1): the shared adapter contract. RabbitMQ settles a message sent to an existing exchange
// with no matching binding `accepted` and drops it (brokers.md §4.4), and 1.0 has nothing like
// 0-9-1's mandatory flag, so that one case asserts the limitation.
import { adapterContract } from '../support/adapter-contract.js'
import { AMQP_URL } from '../support/paths.js'

const AMQP10_URL = `amqp-1-0+${AMQP_URL}`

adapterContract('amqp-1-0 on RabbitMQ', () => AMQP10_URL, { capabilities: { unroutable: false } })
