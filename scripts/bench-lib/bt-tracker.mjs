// The reference tracker of benchmark 6: bittorrent-tracker's server (npm, 11.2.3), WebSocket only,
// on 127.0.0.1. scripts/bench-lib/tracker.sh copies this file beside the node_modules it installed
// (ESM resolves packages from the script's directory) and runs `node bt-tracker.mjs PORT`.
// Only the server is imported: the package's main entry needs node-datachannel's native module.
import Server from 'bittorrent-tracker/server'

const port = Number(process.argv[2])
const server = new Server({ udp: false, http: false, ws: true, stats: false, interval: 120000 })
server.on('error', err => { console.error(`tracker error: ${err.message}`); process.exit(1) })
server.on('warning', () => {}) // bad frames from clients: expected to be rare, never fatal
server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port}`))
const stop = () => server.close(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
