"""Open311 GeoReport v2 on intake (`/open311/v2/…`): any Open311 client can file an appeal
and follow it. `routes.py` is the edge; `catalogue.py` the services and request documents;
`documents.py` the spec's documents as typed models; `render.py` JSON and XML from the same
data; `gazetteer.py` places as KATO codes.

Decided where the spec is silent (see also each module):
- `api_key` is a channel key of intake's HTTP gateway (`INTAKE_API_KEYS`): the client it
  belongs to is the appeal's channel client; a missing or wrong key is 403 (`errors`).
- A service is a category of the national classifier; its definition asks for the kind of
  appeal (`attribute[kind]`, required) and offers `attribute[iin]`. Names in kk, ru or en
  by `locale` or Accept-Language (default Kazakh); the appeal's language is that locale.
- A filed request goes through the same validation, Art. 64 registration, idempotency and
  topics as every channel (channel `open311`); registration is synchronous, so the answer
  holds the registration number as `service_request_id` at once, and a `token` (the appeal
  id) that `GET tokens/{token}` resolves to it. The same form posted again by the same
  client that day is the same appeal (200, the same number); a new one is 201.
- Places: `lat`/`long` → KATO through the gazetteer (400 outside Kazakhstan), or the city or
  region an `address_string` begins with; `address_id` is not trusted as given.
- Jurisdictions: `kz` (the country) and any `kz-<RR>` region a deployment lists
  (`INTAKE_OPEN311_JURISDICTIONS`); with more than one, `jurisdiction_id` is required (400),
  an unknown one is 404, and a region's places must lie in it.
- Who sees what: `GET requests` is public in GeoReport (FixMyStreet and the cities publish
  their reports), so it lists only appeals filed through Open311 — a citizen who files
  through an Open311 app expects a public report; one who calls 1414 does not — in their
  public view (lookup.public_view: district or region, no free text, no personal data), and
  never a report of a crime or a threat to security (hidden from the public everywhere).
  A registration number of another channel is the same 404 as an unknown one.
- `status` is `closed` once the body answered (or the appeal was left without
  consideration), else `open`; `status_notes` says the
  status in words; `expected_datetime` is the statutory answer deadline.
- Listing: newest first, `page`/`page_size` (≤ 200) as the common extension; the range's
  index entries are read (≤ 5,000, else 400: narrow it), filtered by service and place, and
  a status read for the page only (for every filtered request, ≤ 500, when filtering by
  status).
- The same form posted again by the same client on the same day (Asia/Almaty) is the same
  appeal; on another day it is a new one (the same winter's heating complaint next month).
"""
