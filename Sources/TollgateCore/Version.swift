public enum TollgateCoreVersion { public static let string = "0.1.0" }
