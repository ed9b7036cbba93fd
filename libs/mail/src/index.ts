// @sovren/mail: the one way SOVREN apps send mail — nodemailer to the local SMTP relay on a bounded retry queue,
// configured by SOVREN_MAIL_*, counted in sovren_mail_sent_total.
export * from './lib/mail.env';
export * from './lib/mail-sender';
export * from './lib/mail.module';
export * from './lib/retry-queue';
