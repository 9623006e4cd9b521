/**
 * The few libc calls Node does not offer (device-bound and AF_UNIX datagram sockets, setns), bound once through
 * koffi (prebuilt binaries, no compiler at install), and the Linux constants they take (asm-generic: the same on
 * x86-64 and arm64; <sys/socket.h>, <asm/socket.h>, <fcntl.h>, <sched.h>).
 */
import koffi from "koffi";

export const AF_UNIX = 1;
export const AF_INET = 2;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_BROADCAST = 6;
export const SO_BINDTODEVICE = 25;
export const MSG_NOSIGNAL = 0x4000;
export const O_RDONLY = 0;
export const O_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;
export const ENODEV = 19;

/** The libc calls pirack makes. */
export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, length: number): number;
  bind(fd: number, address: Buffer, length: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrLen: number): number;
  close(fd: number): number;
  if_nametoindex(name: string): number;
  open(path: string, flags: number): number;
  setns(fd: number, nstype: number): number;
}

let bound: Libc | undefined;

/** libc, bound on first use. */
export function libc(): Libc {
  if (bound) return bound;
  const lib = koffi.load("libc.so.6");
  bound = {
    socket: lib.func("int socket(int, int, int)"),
    setsockopt: lib.func("int setsockopt(int, int, int, const void *, uint32_t)"),
    bind: lib.func("int bind(int, const void *, uint32_t)"),
    sendto: lib.func("long sendto(int, const void *, size_t, int, const void *, uint32_t)"),
    close: lib.func("int close(int)"),
    if_nametoindex: lib.func("unsigned int if_nametoindex(const char *)"),
    open: lib.func("int open(const char *, int)"),
    setns: lib.func("int setns(int, int)"),
  };
  return bound;
}

/** The errno of the last failed call on this thread. */
export const errno = (): number => koffi.errno();
