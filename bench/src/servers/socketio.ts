/**
 * Socket.IO 4.8 on its default settings. Subscribers join the room named by `?channel=NAME` in their
 * handshake; the publisher emits `publish(channel, data)` and the server broadcasts `m` to the room.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { announce, portArgument } from './control.ts';

const http = createServer();
const io = new Server(http);

io.on('connection', (socket) => {
  const channel = socket.handshake.query.channel;
  if (typeof channel === 'string') socket.join(channel);
  socket.on('publish', (room: string, data: unknown) => {
    io.to(room).emit('m', data);
  });
});

http.listen(portArgument(), '127.0.0.1', () => announce((http.address() as { port: number }).port));
