import { DETECTORS } from '../../src/dlp/detectors.ts';
import { scanText } from '../../src/dlp/scanner.ts';
const t = `Card: 4111 1111 1111 1111 and bad 4111 1111 1111 1112. IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6788, ssn 000-12-3456
mail jane.doe@acme-corp.io, phone +44 20 7946 0958, key AKIAZ7QWERTYUIOPASDF, AKIAIOSFODNN7EXAMPLE
password = "hJ8$kq2LmZ9pQ4xW" and token: 0123456789abcdef0123456789abcdef
DNI 12345678Z, NIR 1 85 05 78 006 084 91, CF RSSMRA85T10A562S, BSN 111222333
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB
`;
console.log(JSON.stringify(scanText(t, { detectors: DETECTORS }), null, 1));
