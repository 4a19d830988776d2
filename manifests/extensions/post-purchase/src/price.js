// The price breakdown shown for an offer. It comes from Shopify's own calculation of the
// changeset (calculateChangeset), so the shopper sees exactly what applyChangeset will charge,
// in the currency they paid in (presentment money).

function amountOf(set) {
  return Number(set.presentmentMoney.amount);
}

function sum(values) {
  return values.reduce((total, value) => total + value, 0);
}

// Rounding away binary noise (e.g. 29.99 - 4.5) without assuming two decimals: currencies have
// zero to three, and formatting rounds to the right number.
function clean(value) {
  return Math.round(value * 10000) / 10000;
}

// -> {currencyCode, price, discount, subtotal, shipping, taxes, total}, all numbers: price is the
// offered line before the offer's discount, subtotal after it; total is what the shopper pays now
// (Shopify's totalOutstandingSet). `variantId` picks the offered line among the updated lines.
export function priceBreakdown(calculatedPurchase, variantId) {
  const lines = calculatedPurchase.updatedLineItems || [];
  const line = lines.find((candidate) => candidate.variantId === variantId) || lines[0];
  if (!line) throw new Error('calculateChangeset returned no line for the offer');
  const price = amountOf(line.priceSet) * line.quantity;
  const subtotal = amountOf(line.totalPriceSet);
  return {
    currencyCode: calculatedPurchase.totalOutstandingSet.presentmentMoney.currencyCode,
    price: clean(price),
    discount: clean(price - subtotal),
    subtotal: clean(subtotal),
    shipping: clean(sum((calculatedPurchase.addedShippingLines || []).map((l) => amountOf(l.priceSet)))),
    taxes: clean(sum((calculatedPurchase.addedTaxLines || []).map((l) => amountOf(l.priceSet)))),
    total: clean(amountOf(calculatedPurchase.totalOutstandingSet)),
  };
}

export function formatMoney(amount, currencyCode, locale) {
  try {
    return new Intl.NumberFormat(locale, {style: 'currency', currency: currencyCode}).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currencyCode}`; // an unknown locale or currency
  }
}
