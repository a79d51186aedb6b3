/**
 * EC2 endpoints that are broken in one way each, on loopback, for the fault tests: one that accepts
 * connections and never answers (stall), one that answers every call with a 500 InternalError, one that
 * throttles every call (503 RequestLimitExceeded), one that answers 200 with malformed XML. Each counts
 * the connections (stall) or requests it got, so that a test can wait until a command reached it.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';

export type BrokenKind = 'stall' | 'server-error' | 'throttle' | 'malformed';

export interface BrokenEc2 {
  kind: BrokenKind;
  url: string;
  /** Connections accepted (stall) or requests answered (the others) so far. */
  hits(): number;
  close(): Promise<void>;
}

function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>`;
}

export async function startBrokenEc2(kind: BrokenKind): Promise<BrokenEc2> {
  let hits = 0;
  const sockets = new Set<Socket>();
  let server: TcpServer | HttpServer;
  if (kind === 'stall') {
    server = createTcpServer((socket) => {
      hits += 1;
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
      // Reads what the client sends and never answers.
      socket.resume();
    });
  } else {
    server = createHttpServer((request, response) => {
      hits += 1;
      request.resume();
      request.on('end', () => {
        if (kind === 'server-error') {
          response.writeHead(500, { 'content-type': 'text/xml' });
          response.end(errorXml('InternalError', 'An internal error has occurred.'));
        } else if (kind === 'throttle') {
          response.writeHead(503, { 'content-type': 'text/xml' });
          response.end(errorXml('RequestLimitExceeded', 'Request limit exceeded.'));
        } else {
          response.writeHead(200, { 'content-type': 'text/xml' });
          response.end('<?xml version="1.0"?>\n<DescribeResponse><vpcSet><item><vpcId>vpc-1</vpcId></item');
        }
      });
    });
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    kind,
    url: `http://127.0.0.1:${address.port}`,
    hits: () => hits,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
