#!/usr/bin/python3
"""Start pyghmi's BMC server (pyghmi.ipmi.bmc.Bmc) on loopback for tests.

Run with Debian's /usr/bin/python3 and python3-pyghmi. The account comes
from the environment (PYGHMI_BMC_USER, PYGHMI_BMC_PASS) so the password
never shows in a process listing. With --port 0 the kernel picks the port;
once the socket is bound one line goes to standard output:

    pyghmi-bmc: ready port=PORT

pyghmi's server answers Get Channel Authentication Capabilities, Get Channel
Cipher Suites (suite 3 only), the RMCP+ handshake, Get Device ID and the
chassis commands; everything else gets completion code 0xC1.
"""

import argparse
import os
import sys

import pyghmi.ipmi.bmc as bmc


class TestBmc(bmc.Bmc):
    def __init__(self, authdata, port, address):
        super(TestBmc, self).__init__(authdata, port=port, address=address)
        # pyghmi routes packets by the port the socket is bound to; with
        # port 0 that is only known now.
        self.port = self.serversocket.getsockname()[1]
        self.powerstate = 'on'

    def get_power_state(self):
        return self.powerstate

    def power_off(self):
        self.powerstate = 'off'

    def power_on(self):
        self.powerstate = 'on'

    def power_shutdown(self):
        self.powerstate = 'off'

    def power_reset(self):
        pass

    def power_cycle(self):
        pass

    def is_active(self):
        return self.powerstate == 'on'


def main():
    parser = argparse.ArgumentParser(prog='pyghmi-bmc')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--address', default='127.0.0.1')
    args = parser.parse_args()
    user = os.environ.get('PYGHMI_BMC_USER', 'admin')
    password = os.environ.get('PYGHMI_BMC_PASS', 'password')
    server = TestBmc({user: password}, args.port, args.address)
    print('pyghmi-bmc: ready port=%d' % server.port, flush=True)
    server.listen()


if __name__ == '__main__':
    sys.exit(main())
