// The explicit command list for oclif's "explicit" strategy: the bundled CLI loads commands from here.
import Active from './commands/active.js';
import Completion from './commands/completion.js';
import Config from './commands/config.js';
import Create from './commands/create.js';
import Docker from './commands/docker.js';
import Drivers from './commands/drivers.js';
import Env from './commands/env.js';
import HelpCommand from './commands/help.js';
import Import from './commands/import.js';
import Inspect from './commands/inspect.js';
import Ip from './commands/ip.js';
import Kill from './commands/kill.js';
import Provision from './commands/provision.js';
import Ls from './commands/ls.js';
import RegenerateCerts from './commands/regenerate-certs.js';
import Restart from './commands/restart.js';
import Rm from './commands/rm.js';
import Scp from './commands/scp.js';
import Ssh from './commands/ssh.js';
import Start from './commands/start.js';
import Status from './commands/status.js';
import Stop from './commands/stop.js';
import SwarmInit from './commands/swarm/init.js';
import SwarmJoin from './commands/swarm/join.js';
import SwarmJoinToken from './commands/swarm/join-token.js';
import SwarmLeave from './commands/swarm/leave.js';
import SwarmLs from './commands/swarm/ls.js';
import SwarmRepair from './commands/swarm/repair.js';
import Tunnel from './commands/tunnel.js';
import Upgrade from './commands/upgrade.js';
import Url from './commands/url.js';
import Use from './commands/use.js';
import Version from './commands/version.js';

export const COMMANDS = {
  active: Active,
  completion: Completion,
  config: Config,
  create: Create,
  docker: Docker,
  drivers: Drivers,
  env: Env,
  help: HelpCommand,
  import: Import,
  inspect: Inspect,
  ip: Ip,
  kill: Kill,
  ls: Ls,
  provision: Provision,
  'regenerate-certs': RegenerateCerts,
  restart: Restart,
  rm: Rm,
  scp: Scp,
  ssh: Ssh,
  start: Start,
  status: Status,
  stop: Stop,
  'swarm:init': SwarmInit,
  'swarm:join': SwarmJoin,
  'swarm:join-token': SwarmJoinToken,
  'swarm:leave': SwarmLeave,
  'swarm:ls': SwarmLs,
  'swarm:repair': SwarmRepair,
  tunnel: Tunnel,
  upgrade: Upgrade,
  url: Url,
  use: Use,
  version: Version,
};
