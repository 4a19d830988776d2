// Afterglow's post-purchase page (Checkout::PostPurchase::ShouldRender / ::Render).
//
// ShouldRender asks our backend for an offer for this purchase and keeps it in the extension's
// storage. Render shows that one offer with Shopify's price breakdown (calculateChangeset) and two
// buttons. Accept asks our backend to sign the changeset -- the server builds `changes` from its
// own offer record, so nothing the browser sends decides what is added or at what discount --
// then applyChangeset charges the card the order was paid with. Every path, errors included,
// ends in done(): the order is already paid, so nothing here may keep the shopper from the
// Thank-you page.
import {
  extend,
  BlockStack,
  Bookend,
  Button,
  CalloutBanner,
  Heading,
  Image,
  Layout,
  Separator,
  Text,
  TextBlock,
  TextContainer,
} from '@shopify/post-purchase-ui-extensions';

import {fetchOffers, recordDecline, signChangeset} from './backend.js';
import {formatMoney, priceBreakdown} from './price.js';

extend('Checkout::PostPurchase::ShouldRender', async ({inputData, storage}) => {
  try {
    const [offer] = await fetchOffers(inputData);
    if (!offer) return {render: false};
    await storage.update({offer});
    return {render: true};
  } catch (error) {
    // No offer is the safe answer: the shopper goes straight to the Thank-you page.
    console.warn('afterglow: no post-purchase offer', error);
    return {render: false};
  }
});

extend('Checkout::PostPurchase::Render', (root, api) => {
  const stored = api.storage.initialData;
  const offer = stored && stored.offer;
  if (!offer) {
    api.done();
    return;
  }
  renderOffer(root, api, offer);
});

// The rows of the breakdown, in order: key in priceBreakdown()'s result, label, emphasis.
const ROWS = [
  ['price', 'Price', false],
  ['discount', 'Discount', false],
  ['subtotal', 'Subtotal', false],
  ['shipping', 'Shipping', false],
  ['taxes', 'Taxes', false],
  ['total', 'Total', true],
];

function renderOffer(root, api, offer) {
  const {inputData, calculateChangeset, applyChangeset, done} = api;
  let busy = false; // one accept or decline, never both, never twice
  let finished = false;

  async function finish() {
    if (finished) return;
    finished = true;
    try {
      await done();
    } catch (error) {
      console.warn('afterglow: done() failed', error);
    }
  }

  const values = {}; // key -> the text node that shows the amount
  const rows = ROWS.map(([key, label, emphasized]) => {
    values[key] = root.createText('…');
    return root.createComponent(Bookend, {trailing: true}, [
      root.createComponent(Text, {emphasized, subdued: !emphasized}, label),
      root.createComponent(Text, {emphasized}, values[key]),
    ]);
  });

  const acceptLabel = root.createText('Pay now');
  const acceptButton = root.createComponent(
    Button,
    {submit: true, loading: true, disabled: true, onPress: accept},
    acceptLabel,
  );
  const declineButton = root.createComponent(
    Button,
    {subdued: true, onPress: decline},
    'Decline this offer',
  );

  const details = [
    root.createComponent(Heading, {level: 2}, offer.productTitle || 'Add to your order'),
  ];
  if (offer.variantTitle) details.push(root.createComponent(Text, {subdued: true}, offer.variantTitle));
  if (offer.description) details.push(root.createComponent(TextBlock, undefined, offer.description));
  details.push(
    root.createComponent(Separator),
    root.createComponent(BlockStack, {spacing: 'tight'}, rows),
    root.createComponent(Separator),
    root.createComponent(BlockStack, {spacing: 'tight'}, [acceptButton, declineButton]),
  );

  const media = offer.imageUrl
    ? [root.createComponent(Image, {source: offer.imageUrl, description: offer.productTitle || ''})]
    : [];
  root.appendChild(
    root.createComponent(BlockStack, {spacing: 'loose'}, [
      root.createComponent(CalloutBanner, {title: offer.headline || 'A one-time offer for you'}, [
        root.createComponent(TextContainer, undefined, [
          root.createComponent(Text, undefined, offer.message || 'Add this to your order with one click.'),
        ]),
      ]),
      root.createComponent(
        Layout,
        {
          media: [
            {viewportSize: 'small', sizes: [1]},
            {viewportSize: 'medium', sizes: media.length ? [0.4, 0.6] : [1]},
            {viewportSize: 'large', sizes: media.length ? [0.4, 0.6] : [1]},
          ],
        },
        [...media, root.createComponent(BlockStack, {spacing: 'loose'}, details)],
      ),
    ]),
  );
  root.mount();

  // Shopify prices the unsigned changeset the backend proposed for display only; the one that is
  // applied is signed by the backend and built from its own record.
  calculateChangeset({changes: offer.changes || []})
    .then((result) => {
      if (result.status !== 'processed') {
        throw new Error('calculateChangeset: ' + JSON.stringify(result.errors || []));
      }
      const breakdown = priceBreakdown(result.calculatedPurchase, offer.variantId);
      for (const [key] of ROWS) {
        // A discount reads as a deduction; no discount reads $0.00, not -$0.00.
        const amount = key === 'discount' && breakdown.discount ? -breakdown.discount : breakdown[key];
        values[key].updateText(formatMoney(amount, breakdown.currencyCode, inputData.locale));
      }
      acceptLabel.updateText(
        'Pay now · ' + formatMoney(breakdown.total, breakdown.currencyCode, inputData.locale),
      );
      acceptButton.updateProps({loading: false, disabled: false});
    })
    .catch((error) => {
      // e.g. the variant sold out since ShouldRender: there is nothing left to offer.
      console.warn('afterglow: offer cannot be priced', error);
      busy = true;
      finish();
    });

  async function accept() {
    if (busy) return;
    busy = true;
    acceptButton.updateProps({loading: true, disabled: true});
    declineButton.updateProps({disabled: true});
    try {
      const token = await signChangeset(inputData, offer);
      const result = await applyChangeset(token);
      if (result.status !== 'processed') {
        // partially_processed: the order was edited but the charge failed; Shopify shows the
        // balance on the order. unprocessed: nothing changed. Either way the page is over.
        console.warn('afterglow: changeset ' + result.status, result.errors);
      }
    } catch (error) {
      console.warn('afterglow: accept failed', error);
    }
    await finish();
  }

  async function decline() {
    if (busy) return;
    busy = true;
    acceptButton.updateProps({disabled: true});
    declineButton.updateProps({loading: true, disabled: true});
    try {
      await recordDecline(inputData, offer);
    } catch (error) {
      console.warn('afterglow: decline not recorded', error);
    }
    await finish();
  }
}
