// PostgreSQL major versions and their end of life, from the community's versioning policy
// (https://www.postgresql.org/support/versioning/, columns "First Release" and "Final Release"):
// each major is supported for five years, then gets one final minor release on the November
// release day of its fifth year and is unsupported after it. Add a row with each new major.
export interface PostgresMajor {
  major: string;
  firstRelease: string;
  finalRelease: string;
}

export const postgresMajors: readonly PostgresMajor[] = [
  { major: '18', firstRelease: '2025-09-25', finalRelease: '2030-11-14' },
  { major: '17', firstRelease: '2024-09-26', finalRelease: '2029-11-08' },
  { major: '16', firstRelease: '2023-09-14', finalRelease: '2028-11-09' },
  { major: '15', firstRelease: '2022-10-13', finalRelease: '2027-11-11' },
  { major: '14', firstRelease: '2021-09-30', finalRelease: '2026-11-12' },
  { major: '13', firstRelease: '2020-09-24', finalRelease: '2025-11-13' },
  { major: '12', firstRelease: '2019-10-03', finalRelease: '2024-11-14' },
  { major: '11', firstRelease: '2018-10-18', finalRelease: '2023-11-09' },
  { major: '10', firstRelease: '2017-10-05', finalRelease: '2022-11-10' },
  { major: '9.6', firstRelease: '2016-09-29', finalRelease: '2021-11-11' },
  { major: '9.5', firstRelease: '2016-01-07', finalRelease: '2021-02-11' },
  { major: '9.4', firstRelease: '2014-12-18', finalRelease: '2020-02-13' },
];
