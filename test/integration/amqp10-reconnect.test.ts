// Broker connection loss over AMQP 1.0: the 1.0 links and the adapter's 0-9-1 queue-management
// connection all go through the cut proxy (scenarios in test/support/reconnect-suite.ts).
import { reconnectSuite } from '../support/reconnect-suite.js'

reconnectSuite(' over AMQP 1.0', 'amqp-1-0+')
