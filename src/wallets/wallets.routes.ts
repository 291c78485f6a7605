import type { FastifyInstance } from 'fastify';
import { problemResponses } from '../http/problem-details.ts';
import { timestampSchema, walletAddressSchema } from '../http/schemas.ts';
import { findOwnWallet, listWallets, toWalletView } from './wallet.service.ts';

export const walletSchema = {
  type: 'object',
  properties: {
    walletAddress: { type: 'string' },
    walletName: { type: ['string', 'null'] },
    energyBalance: { type: 'string', description: 'kWh, 6 decimals' },
    idrsBalance: { type: 'string', description: 'IDRS, 2 decimals' },
    isActive: { type: 'boolean' },
    createdAt: timestampSchema,
    updatedAt: timestampSchema,
  },
  required: ['walletAddress', 'walletName', 'energyBalance', 'idrsBalance', 'isActive', 'createdAt', 'updatedAt'],
} as const;

const listSchema = {
  response: { 200: { type: 'array', items: walletSchema }, ...problemResponses },
} as const;

const oneSchema = {
  params: { type: 'object', properties: { address: walletAddressSchema }, required: ['address'], additionalProperties: false },
  response: { 200: walletSchema, ...problemResponses },
} as const;

/** The caller's own wallets; any other address is 404. */
export default async function walletRoutes(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', app.authenticate);

  app.get('/wallets', { schema: listSchema }, async request => (await listWallets(request.em, request.userId)).map(toWalletView));

  app.get<{ Params: { address: string } }>('/wallets/:address', { schema: oneSchema }, async request =>
    toWalletView(await findOwnWallet(request.em, request.userId, request.params.address)),
  );
}
