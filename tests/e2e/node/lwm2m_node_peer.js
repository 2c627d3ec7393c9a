// An independent LwM2M peer for the interop test: Telefonica's
// lwm2m-node-lib (LwM2M 1.0, NoSec) from the npm registry, as a server
// that reads, writes and executes on whatever client registers, or as a
// client with a Device object that registers with a server.
//   node lwm2m_node_peer.js server PORT
//   node lwm2m_node_peer.js client HOST PORT ENDPOINT SECONDS
// Prints one line per outcome ("peer: ...") for the test to check.
'use strict';
const lwm2m = require('lwm2m-node-lib');

function say(line) {
    process.stdout.write('peer: ' + line + '\n');
}

function config(port) {
    return {
        server: {
            port: port, lifetimeCheckInterval: 1000, udpWindow: 100, defaultType: 'Device', types: [],
            logLevel: 'FATAL', ipProtocol: 'udp4', serverProtocol: 'udp4',
            formats: [{name: 'text/plain', value: 0}],
            writeFormat: 'text/plain', defaultAcceptFormat: 'text/plain',
            deviceRegistry: {type: 'memory'}
        },
        client: {
            lifetime: '60', version: '1.0', logLevel: 'FATAL', observe: {period: 3000},
            ipProtocol: 'udp4', serverProtocol: 'udp4', port: 0,
            formats: [{name: 'text/plain', value: 0}], writeFormat: 'text/plain'
        }
    };
}

function server(port) {
    const s = lwm2m.server;
    s.start(config(port).server, (err, info) => {
        if (err) {
            say('cannot start: ' + err);
            process.exit(2);
        }
        s.setHandler(info, 'registration', (ep, lifetime, version, binding, payload, callback) => {
            say('registered ' + ep + ' lt=' + lifetime + ' lwm2m=' + version + ' objects ' + payload);
            callback();
            setTimeout(() => s.getDevice(ep, (err2, dev) => {
                if (err2) {
                    say('no device ' + ep);
                    return;
                }
                s.read(dev.id, 3, 0, 0, (e, v) => {
                    say(e ? 'read /3/0/0 failed: ' + e.name : 'read /3/0/0 = ' + v);
                    s.write(dev.id, 1, 0, 1, '120', (e2) => {
                        say(e2 ? 'write /1/0/1 failed: ' + e2.name : 'write /1/0/1 = 120 done');
                        s.read(dev.id, 1, 0, 1, (e3, v3) => {
                            say(e3 ? 'read /1/0/1 failed: ' + e3.name : 'read /1/0/1 = ' + v3);
                            s.execute(dev.id, 3, 0, 4, null, (e4) => {
                                say(e4 ? 'execute /3/0/4 failed: ' + e4.name : 'execute /3/0/4 done');
                            });
                        });
                    });
                });
            }), 200);
        });
        s.setHandler(info, 'unregistration', (device, callback) => {
            say('de-registered ' + device.name);
            callback();
        });
        s.setHandler(info, 'updateRegistration', (object, callback) => callback());
        say('listening on ' + port);
    });
}

function client(host, port, ep, seconds) {
    const c = lwm2m.client;
    c.init(config(0));
    c.registry.create('/3/0', () => {
        c.registry.setResource('/3/0', 0, 'lwm2m-node-lib', () => {
            c.registry.setResource('/3/0', 2, ep, () => {
                c.register(host, port, null, ep, (err, info) => {
                    if (err) {
                        say('register failed: ' + err);
                        process.exit(3);
                    }
                    say('registered at ' + info.location);
                    setTimeout(() => c.unregister(info, (e) => {
                        say(e ? 'de-register failed: ' + e : 'de-registered');
                        process.exit(e ? 4 : 0);
                    }), seconds * 1000);
                });
            });
        });
    });
}

const [mode, a, b, c, d] = process.argv.slice(2);
if (mode === 'server')
    server(Number(a));
else if (mode === 'client')
    client(a, Number(b), c, Number(d));
else {
    process.stderr.write('usage: lwm2m_node_peer.js server PORT | client HOST PORT ENDPOINT SECONDS\n');
    process.exit(1);
}
