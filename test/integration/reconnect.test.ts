// Broker connection loss over AMQP 0-9-1 (the scenarios are in test/support/reconnect-suite.ts).
import { reconnectSuite } from '../support/reconnect-suite.js'

reconnectSuite('', '')
