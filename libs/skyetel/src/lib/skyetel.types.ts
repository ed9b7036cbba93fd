// Shapes of Skyetel's REST API (https://api.skyetel.com/v1) that this platform reads, from Skyetel's published
// OpenAPI document (https://api.docs.skyetel.com) and the python_skyetel client (dfiel/python_skyetel,
// skyetel/responses.py). Only the fields we use are typed; Skyetel sends many more (SMS and fax flags among them,
// deliberately not modelled here). What the public documents leave open is marked "assumed" (docs/voice.md).

export interface SkyetelEndpointGroupRef {
  id: number;
  name: string;
}

/** One of our numbers, as `GET /phonenumbers` lists it. `number` is the 10/11-digit NANP number as a string. */
export interface SkyetelPhoneNumber {
  id: number;
  number: string;
  note?: string | null;
  endpoint_group?: SkyetelEndpointGroupRef | null;
  e911_enabled?: boolean;
  lifecycle_state?: string | null;
}

/**
 * A number `GET /phonenumbers/order/search` offers. The filters are documented (python_skyetel PhoneNumberFilter:
 * `filter[npas][]`, `filter[category]`, `filter[quantity]`...); the item shape is assumed: `number` plus where it is.
 */
export interface SkyetelAvailableNumber {
  number: string;
  rate_center?: string | null;
  state?: string | null;
}

/** An IP-authenticated SIP endpoint (`GET /endpoints`): where Skyetel sends a number's calls. */
export interface SkyetelEndpoint {
  id: number;
  ip: string;
  port: number;
  transport: string;
  priority: number;
  description?: string | null;
  endpoint_group?: SkyetelEndpointGroupRef | null;
}

export interface SkyetelPage {
  limit: number;
  offset: number;
}

/**
 * The E911 service address of one number (`/phonenumbers/{id}/e911address`; fields as python_skyetel's E911Address
 * and create_phonenumber_e911 send them, as form fields).
 */
export interface SkyetelE911Address {
  caller_name: string;
  address1: string;
  address2?: string;
  community: string;
  state: string;
  postal_code: string;
}
