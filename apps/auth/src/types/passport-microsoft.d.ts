// passport-microsoft publishes no types: it is passport-oauth2's Strategy with Microsoft's endpoints as defaults
// (options `tenant`, `graphApiVersion`, `addUPNAsEmail`, `apiEntryPoint` besides passport-oauth2's own).
declare module 'passport-microsoft' {
  import { Strategy as OAuth2Strategy } from 'passport-oauth2';

  export class Strategy extends OAuth2Strategy {}
}
