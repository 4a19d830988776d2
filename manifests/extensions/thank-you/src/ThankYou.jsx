// Afterglow's Thank-you block (purchase.thank-you.block.render, Preact + Polaris web components).
//
// Asks our backend for an offer for this order, shows it with its price breakdown, and adds it
// with one click: the backend charges the card the shopper just paid with (no card entry) and
// appends the line to the order. The outcome is shown as it is: succeeded, declined, or
// requires_action (the bank wants the shopper to confirm; the block links to that page and can
// check again). "No thanks" records the decline and hides the block. When there is no offer or
// the backend cannot be reached, the block renders nothing: it never gets in the way of the page.
import '@shopify/ui-extensions/preact';
import {render} from 'preact';
import {useEffect, useState} from 'preact/hooks';

import {acceptOffer, declineOffer, fetchOffers} from './backend.js';

export default async () => {
  render(<ThankYouOffer />, document.body);
};

const getToken = () => shopify.sessionToken.get();

function ThankYouOffer() {
  const orderId = shopify.orderConfirmation.value.order.id;
  // phase: loading | none | offer | accepting | succeeded | processing | requires_action |
  //        declined | error | dismissed
  const [view, setView] = useState({phase: 'loading'});

  useEffect(() => {
    let live = true;
    fetchOffers(getToken, orderId)
      .then(([offer]) => live && setView(offer ? {phase: 'offer', offer} : {phase: 'none'}))
      .catch((error) => {
        console.warn('afterglow: no thank-you offer', error);
        if (live) setView({phase: 'none'});
      });
    return () => {
      live = false;
    };
  }, [orderId]);

  const {phase, offer} = view;
  if (phase === 'loading') return <s-skeleton-paragraph />;
  if (phase === 'none' || phase === 'dismissed') return null;

  async function accept() {
    setView({phase: 'accepting', offer});
    try {
      const result = await acceptOffer(getToken, orderId, offer);
      setView({phase: result.status, offer, result});
    } catch (error) {
      console.warn('afterglow: accept failed', error);
      setView({phase: 'error', offer, message: error.message});
    }
  }

  async function decline() {
    setView({phase: 'dismissed'});
    try {
      await declineOffer(getToken, orderId, offer);
    } catch (error) {
      console.warn('afterglow: decline not recorded', error);
    }
  }

  if (phase === 'succeeded') {
    const charged = view.result.charged || (offer.pricing && offer.pricing.total);
    return (
      <s-banner tone="success" heading="Added to your order">
        <s-text>
          {view.result.message ||
            (charged
              ? `${money(charged)} was charged to the card you paid with.`
              : 'It was charged to the card you paid with.')}
        </s-text>
      </s-banner>
    );
  }

  const busy = phase === 'accepting';
  const pricing = offer.pricing || {};
  return (
    <s-section heading={offer.headline || 'Add to your order'}>
      <s-stack gap="base">
        <s-grid gridTemplateColumns={offer.imageUrl ? 'auto 1fr' : '1fr'} gap="base" alignItems="center">
          {offer.imageUrl && <s-product-thumbnail src={offer.imageUrl} alt={offer.productTitle} />}
          <s-stack gap="small-200">
            <s-heading>{offer.productTitle}</s-heading>
            {offer.variantTitle && <s-text color="subdued">{offer.variantTitle}</s-text>}
            {offer.description && <s-paragraph>{offer.description}</s-paragraph>}
          </s-stack>
        </s-grid>
        <Breakdown pricing={pricing} />
        <Status view={view} />
        <s-stack direction="inline" gap="base">
          <s-button variant="primary" loading={busy} disabled={busy} onClick={accept}>
            {acceptLabel(phase, pricing.total)}
          </s-button>
          <s-button variant="secondary" disabled={busy} onClick={decline}>
            No thanks
          </s-button>
        </s-stack>
        <s-text color="subdued">
          Charged to the card you just paid with. No card details needed.
        </s-text>
      </s-stack>
    </s-section>
  );
}

// Rows in the order a receipt reads; the backend leaves out what does not apply (no shipping
// line for a digital product, for instance).
const ROWS = [
  ['price', 'Price'],
  ['discount', 'Discount'],
  ['subtotal', 'Subtotal'],
  ['shipping', 'Shipping'],
  ['taxes', 'Taxes'],
  ['total', 'Total'],
];

function Breakdown({pricing}) {
  const rows = ROWS.filter(([key]) => pricing[key]);
  if (rows.length === 0) return null;
  return (
    <s-grid gridTemplateColumns="1fr auto" gap="small-200">
      {rows.map(([key, label]) => {
        const emphasis = key === 'total' ? 'strong' : undefined;
        const amount = key === 'discount' ? negate(pricing[key]) : pricing[key];
        return [
          <s-text key={key + ':label'} type={emphasis} color={emphasis ? 'base' : 'subdued'}>
            {label}
          </s-text>,
          <s-text key={key + ':value'} type={emphasis}>
            {money(amount)}
          </s-text>,
        ];
      })}
    </s-grid>
  );
}

// What happened to the last accept. "Check again" (the main button) posts the accept again.
function Status({view}) {
  const {phase, result = {}} = view;
  if (phase === 'requires_action') {
    return (
      <s-banner tone="warning" heading="Your bank needs you to confirm this payment">
        <s-stack gap="small-200">
          <s-text>
            {result.message || 'Confirm it with your bank, then check again. You have not been charged yet.'}
          </s-text>
          {result.actionUrl && (
            <s-link href={result.actionUrl} target="_blank">
              Confirm with your bank
            </s-link>
          )}
        </s-stack>
      </s-banner>
    );
  }
  if (phase === 'processing') {
    return (
      <s-banner tone="info" heading="Your payment is processing">
        <s-text>{result.message || 'This can take a moment. Check again shortly.'}</s-text>
      </s-banner>
    );
  }
  if (phase === 'declined') {
    return (
      <s-banner tone="critical" heading="Payment declined">
        <s-text>{result.message || 'Your card was declined. You have not been charged.'}</s-text>
      </s-banner>
    );
  }
  if (phase === 'error') {
    return (
      <s-banner tone="critical" heading="We could not add this to your order">
        <s-text>
          {view.message || 'Something went wrong.'} Try again: you are never charged twice for
          one offer.
        </s-text>
      </s-banner>
    );
  }
  return null;
}

function acceptLabel(phase, total) {
  if (phase === 'declined' || phase === 'error') return 'Try again';
  if (phase === 'requires_action' || phase === 'processing') return 'Check again';
  return total ? `Add to order · ${money(total)}` : 'Add to order';
}

function negate(m) {
  return {amount: String(-Math.abs(Number(m.amount))), currencyCode: m.currencyCode};
}

function money(m) {
  return shopify.i18n.formatCurrency(Number(m.amount), {currency: m.currencyCode});
}
