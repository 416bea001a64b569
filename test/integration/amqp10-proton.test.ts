// The AMQP 1.0 adapter (rhea) against the Qpid Proton 0.37 example brokers that
// scripts/proton-brokers.sh starts: the Python broker.py (127.0.0.1:5674) and the C++ broker.cpp
// (127.0.0.1:5675). They are toys kept in memory: no TTL, no requeue (a settled or abandoned
// delivery is gone), no authentication, no management (queues appear on first use and cannot be
// checked or deleted), no exchanges. The contract asserts exactly those limitations.
import { adapterContract, type Capabilities } from '../support/adapter-contract.js'

const PY_URL = process.env.GOFER_TEST_PROTON_PY_URL ?? 'amqp-1-0+amqp://127.0.0.1:5674'
const CPP_URL = process.env.GOFER_TEST_PROTON_CPP_URL ?? 'amqp-1-0+amqp://127.0.0.1:5675'

const toy: Partial<Capabilities> = { ttl: false, requeue: false, notFound: false, deleteQueue: false, exchanges: false, unroutable: false }

adapterContract('amqp-1-0 on the Proton Python example broker', () => PY_URL, { capabilities: toy })
adapterContract('amqp-1-0 on the Proton C++ example broker', () => CPP_URL, { capabilities: toy })
