import { Type } from '../http/schema-builder.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { problemResponses } from '../http/problem-details.ts';
import { nullableString, strictObject, timestampSchema, walletAddressSchema } from '../http/schemas.ts';
import { findOwnWallet, listWallets, toWalletView } from './wallet.service.ts';

export const walletSchema = Type.Object({
  walletAddress: Type.String(),
  walletName: nullableString(),
  energyBalance: Type.String({ description: 'kWh, 6 decimals' }),
  idrsBalance: Type.String({ description: 'IDRS, 2 decimals' }),
  isActive: Type.Boolean(),
  createdAt: timestampSchema,
  updatedAt: timestampSchema,
});

const listSchema = {
  response: { 200: Type.Array(walletSchema), ...problemResponses },
};

const oneSchema = {
  params: strictObject({ address: walletAddressSchema }),
  response: { 200: walletSchema, ...problemResponses },
};

/** The caller's own wallets; any other address is 404. */
const walletRoutes: FastifyPluginAsyncTypebox = async app => {
  app.addHook('onRequest', app.authenticate);

  app.get('/wallets', { schema: listSchema }, async request => (await listWallets(request.em, request.userId)).map(toWalletView));

  app.get('/wallets/:address', { schema: oneSchema }, async request =>
    toWalletView(await findOwnWallet(request.em, request.userId, request.params.address)),
  );
};

export default walletRoutes;
