import type { TestUser, UserOps } from "./client.js";

/** What {@link makeRoom} creates: a GROUP named "Room" with no other member unless told. */
export interface RoomSpec {
  /** GROUP (the default), PUBLIC or DIRECT. */
  type?: string;
  name?: string;
  /** Members beside the owner, added by createRoom's memberIds. */
  members?: TestUser[];
  /** Added after creation as ADMINs (addRoomMember with role ADMIN). */
  admins?: TestUser[];
  maxMembers?: number;
}

const CREATE = `mutation($input: CreateRoomInput!) { createRoom(input: $input) { id } }`;
const ADD = `mutation($r: ID!, $u: ID!, $role: RoomRole) { addRoomMember(roomId: $r, userId: $u, role: $role) { role } }`;

/**
 * Creates a room as `owner` through the real createRoom (then addRoomMember for
 * `spec.admins`) with `api`, and resolves its id. Fails the test on any GraphQL error.
 */
export async function makeRoom(api: UserOps, owner: TestUser, spec: RoomSpec = {}): Promise<string> {
  const input = {
    name: spec.name ?? "Room",
    type: spec.type ?? "GROUP",
    memberIds: (spec.members ?? []).map((u) => u.id),
    ...(spec.maxMembers ? { maxMembers: spec.maxMembers } : {}),
  };
  const id = (await api.ok(owner, CREATE, { input })).createRoom.id as string;
  for (const admin of spec.admins ?? []) await api.ok(owner, ADD, { r: id, u: admin.id, role: "ADMIN" });
  return id;
}

const SEND = `mutation($r: ID!, $c: String!) { sendMessage(input: { roomId: $r, content: $c }) { id seq } }`;

/**
 * Sends `content` to room `roomId` as `user` through the real sendMessage with
 * `api`, and resolves the message's id and seq (its place in the room's order).
 * Fails the test on any GraphQL error.
 */
export async function sendMessage(api: UserOps, user: TestUser, roomId: string, content: string): Promise<{ id: string; seq: number }> {
  return (await api.ok(user, SEND, { r: roomId, c: content })).sendMessage;
}
